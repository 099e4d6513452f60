"""Due occurrences run once each; missed ones follow the action's policy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from apps.channels.play.models import ChannelPlayer
from apps.channels.replays.models import Replay
from apps.channels.scheduling import conf
from apps.channels.scheduling.models import (
    ActionKind,
    MissedPolicy,
    RunState,
    ScheduledAction,
    ScheduledRun,
)
from apps.channels.scheduling.services import scheduled_actions_run_due
from apps.channels.tests.factories import an_action
from apps.channels.tests.play_helpers import playing_channel
from apps.streams.models import JobState, StreamJob, StreamRun
from apps.streams.tests.factories import job_with_outputs
from workers.scheduler import run_scheduled_actions

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


def _published_at(action: ScheduledAction) -> datetime | None:
    return (
        Replay.objects.filter(scheduled_actions=action).values_list("published_at", flat=True).get()
    )


def test_a_one_off_publishes_its_replay_when_due_and_only_then() -> None:
    action = an_action(starts_at=T0, next_run_at=T0)
    assert scheduled_actions_run_due(now=T0 - timedelta(seconds=1)) == []
    assert not _published_at(action)
    runs = scheduled_actions_run_due(now=T0 + timedelta(seconds=3))
    assert [(run.state, run.occurrence_at) for run in runs] == [(RunState.SUCCEEDED, T0)]
    assert _published_at(action) is not None
    action.refresh_from_db()
    assert action.next_run_at is None
    assert scheduled_actions_run_due(now=T0 + timedelta(minutes=1)) == []


def test_the_periodic_task_starts_a_stream_job_at_its_time() -> None:
    job = job_with_outputs({})
    soon = datetime.now(UTC) - timedelta(seconds=1)
    an_action(
        kind=ActionKind.STREAM_JOB_START, replay=None, stream_job=job, starts_at=soon,
        next_run_at=soon,
    )  # fmt: skip
    assert run_scheduled_actions() == 1
    assert StreamJob.objects.get(pk=job.pk).state == JobState.STARTING
    assert StreamRun.objects.filter(job=job).count() == 1


def test_a_refused_action_is_recorded_failed_with_its_code() -> None:
    job = job_with_outputs({})
    StreamJob.objects.filter(pk=job.pk).update(state=JobState.STOPPING)  # not startable
    an_action(
        kind=ActionKind.STREAM_JOB_START, replay=None, stream_job=job, starts_at=T0,
        next_run_at=T0,
    )  # fmt: skip
    (run,) = scheduled_actions_run_due(now=T0)
    assert (run.state, run.error_code) == (RunState.FAILED, "stream_job.invalid_transition")
    assert run.error_params["from"] == "stopping"
    assert not StreamRun.objects.filter(job=job).exists()
    assert ScheduledRun.objects.get(pk=run.pk).state == RunState.FAILED


def test_each_occurrence_of_a_rule_runs_once_and_the_next_is_kept() -> None:
    action = an_action(starts_at=T0, next_run_at=T0, rule="FREQ=HOURLY")
    for minutes in (0, 1, 30, 60, 61, 125):
        scheduled_actions_run_due(now=T0 + timedelta(minutes=minutes))
    occurrences = list(
        ScheduledRun.objects.filter(action=action).values_list("occurrence_at", flat=True)
    )
    assert sorted(occurrences) == [T0, T0 + timedelta(hours=1), T0 + timedelta(hours=2)]
    action.refresh_from_db()
    assert action.next_run_at == T0 + timedelta(hours=3)


def test_missed_runs_are_skipped_under_the_skip_policy() -> None:
    action = an_action(
        starts_at=T0, next_run_at=T0, rule="FREQ=HOURLY", missed_policy=MissedPolicy.SKIP
    )
    # CastCore was down from before T0 until 3h10 later.
    now = T0 + timedelta(hours=3, minutes=10)
    runs = scheduled_actions_run_due(now=now)
    assert [run.state for run in runs] == [RunState.SKIPPED] * 4
    assert _published_at(action) is None
    action.refresh_from_db()
    assert action.next_run_at == T0 + timedelta(hours=4)


def test_the_latest_missed_run_runs_once_late_under_the_run_once_policy() -> None:
    action = an_action(
        starts_at=T0, next_run_at=T0, rule="FREQ=HOURLY", missed_policy=MissedPolicy.RUN_ONCE
    )
    now = T0 + timedelta(hours=3, minutes=10)
    runs = scheduled_actions_run_due(now=now)
    assert [(run.state, run.late) for run in runs] == [
        (RunState.SKIPPED, True), (RunState.SKIPPED, True), (RunState.SKIPPED, True),
        (RunState.SUCCEEDED, True),
    ]  # fmt: skip
    assert runs[-1].occurrence_at == T0 + timedelta(hours=3)
    assert _published_at(action) is not None


def test_a_run_a_little_late_is_not_missed() -> None:
    action = an_action(starts_at=T0, next_run_at=T0, missed_policy=MissedPolicy.SKIP)
    (run,) = scheduled_actions_run_due(now=T0 + timedelta(seconds=conf.MISSED_AFTER_SECONDS - 1))
    assert run.state == RunState.SUCCEEDED and not run.late
    assert _published_at(action) is not None


def test_a_disabled_action_does_not_run() -> None:
    an_action(starts_at=T0, next_run_at=T0, enabled=False)
    assert scheduled_actions_run_due(now=T0) == []


def test_a_second_scheduler_with_a_stale_view_claims_nothing() -> None:
    action = an_action(starts_at=T0, next_run_at=T0, rule="FREQ=HOURLY")
    from apps.channels.scheduling.services import scheduled_action_run_due

    stale = ScheduledAction.objects.get(pk=action.pk)
    assert len(scheduled_action_run_due(action=action, now=T0)) == 1
    # Read before the first moved the action on: its claim finds the occurrence taken.
    assert scheduled_action_run_due(action=stale, now=T0) == []
    assert ScheduledRun.objects.filter(action=action).count() == 1
    action.refresh_from_db()
    assert action.next_run_at == T0 + timedelta(hours=1)


def test_a_scheduled_channel_start_and_stop_drive_the_channels_job(
    tmp_path: Path, settings: Any
) -> None:
    settings.VAR_DIR = tmp_path
    channel = playing_channel()
    an_action(kind=ActionKind.CHANNEL_START, replay=None, channel=channel, starts_at=T0,
              next_run_at=T0)  # fmt: skip
    stop_at = T0 + timedelta(hours=1)
    an_action(kind=ActionKind.CHANNEL_STOP, replay=None, channel=channel, starts_at=stop_at,
              next_run_at=stop_at)  # fmt: skip
    (started,) = scheduled_actions_run_due(now=T0)
    assert started.state == RunState.SUCCEEDED
    player = ChannelPlayer.objects.get(channel=channel)
    assert player.wanted and StreamJob.objects.get(pk=player.job_id).state == JobState.STARTING
    (stopped,) = scheduled_actions_run_due(now=stop_at)
    assert stopped.state == RunState.SUCCEEDED
    player.refresh_from_db()
    assert not player.wanted
    assert StreamJob.objects.get(pk=player.job_id).state == JobState.STOPPED
