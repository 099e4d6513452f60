"""Which channels play: always-on channels start by themselves, disabled and deleted
channels stop, and operators start and stop a channel through the API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from apps.accounts.models import AuditEntry
from apps.channels.models import Channel, ChannelMode
from apps.channels.play.models import ChannelPlayer
from apps.channels.play.services import channel_start, channels_keep_playing
from apps.channels.services.channels import channel_delete, channel_update
from apps.channels.tests.play_helpers import playing_channel
from apps.streams.models import InputKind, JobState, RunState, StreamJob, StreamRun

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def var(tmp_path: Path, settings: Any) -> Path:
    settings.VAR_DIR = tmp_path
    return tmp_path


def _job(channel: Channel) -> StreamJob:
    return StreamJob.objects.get(pk=ChannelPlayer.objects.get(channel=channel).job_id)


def test_an_always_on_channel_never_started_is_started_by_the_periodic_step() -> None:
    channel = playing_channel()
    assert channels_keep_playing()["started"] == 1
    assert ChannelPlayer.objects.get(channel=channel).wanted
    assert _job(channel).state == JobState.STARTING
    # The next pass finds it playing: nothing more to do.
    assert channels_keep_playing()["started"] == 0


@pytest.mark.parametrize(
    "fields",
    [{"mode": ChannelMode.ON_DEMAND}, {"enabled": False}, {"output_profile": None}],
    ids=["on-demand", "disabled", "no-profile"],
)
def test_channels_that_cannot_or_need_not_play_are_not_started(fields: dict[str, Any]) -> None:
    playing_channel(**fields)
    assert channels_keep_playing()["started"] == 0
    assert not ChannelPlayer.objects.exists()


def test_a_channel_stopped_by_an_operator_stays_stopped(operator_api: Any) -> None:
    channel = playing_channel()
    started = operator_api.post(f"/api/v1/channels/{channel.pk}/start")
    assert started.status_code == 200, started.content
    assert started.json()["wanted"] is True and started.json()["state"] == JobState.STARTING
    stopped = operator_api.post(f"/api/v1/channels/{channel.pk}/stop")
    assert stopped.status_code == 200
    assert stopped.json() == {
        "channel": channel.pk, "wanted": False, "held": True, "job": _job(channel).pk,
        "state": "stopped",
    }  # fmt: skip
    assert channels_keep_playing()["started"] == 0
    assert _job(channel).state == JobState.STOPPED
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"channel.start", "channel.stop"} <= actions


def test_viewers_cannot_start_or_stop_a_channel(viewer_api: Any) -> None:
    channel = playing_channel()
    for verb in ("start", "stop"):
        assert viewer_api.post(f"/api/v1/channels/{channel.pk}/{verb}").status_code == 403
    assert not ChannelPlayer.objects.exists()


def test_starting_a_disabled_channel_is_a_conflict(operator_api: Any) -> None:
    channel = playing_channel(enabled=False)
    response = operator_api.post(f"/api/v1/channels/{channel.pk}/start")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "channel.disabled"


def test_disabling_a_channel_stops_its_job_and_enabling_it_starts_it_again(
    operator_api: Any,
) -> None:
    channel = playing_channel()
    channel_start(actor=None, channel=channel)
    response = operator_api.patch(f"/api/v1/channels/{channel.pk}", {"enabled": False})
    assert response.status_code == 200
    assert _job(channel).state == JobState.STOPPED
    assert not ChannelPlayer.objects.get(channel=channel).wanted
    assert channels_keep_playing()["started"] == 0
    channel.refresh_from_db()
    channel_update(actor=None, channel=channel, enabled=True)
    assert _job(channel).state == JobState.STARTING


def test_a_disabled_channel_still_wanted_is_stopped_by_the_periodic_step() -> None:
    channel = playing_channel()
    channel_start(actor=None, channel=channel)
    # Disabled behind the services' back (a bulk update, an older release).
    Channel.objects.filter(pk=channel.pk).update(enabled=False)
    assert channels_keep_playing() == {"started": 0, "stopped": 1, "deleted": 0}
    assert _job(channel).state == JobState.STOPPED


def test_deleting_a_channel_stops_and_deletes_its_job(operator_api: Any) -> None:
    channel = playing_channel()
    job_id = channel_start(actor=None, channel=channel).job_id
    assert operator_api.delete(f"/api/v1/channels/{channel.pk}").status_code == 204
    assert not StreamJob.objects.filter(pk=job_id).exists()


def test_a_deleted_channels_job_a_worker_still_runs_is_deleted_once_it_stopped() -> None:
    channel = playing_channel()
    job_id = channel_start(actor=None, channel=channel).job_id
    # A worker holds the run: the stop has to reach it before the job can go.
    StreamJob.objects.filter(pk=job_id).update(state=JobState.RUNNING)
    StreamRun.objects.filter(job_id=job_id).update(state=RunState.RUNNING)
    channel_delete(actor=None, channel=channel)
    job = StreamJob.objects.get(pk=job_id)
    assert job.state == JobState.STOPPING and job.input_kind == InputKind.CHANNEL
    assert channels_keep_playing()["deleted"] == 0
    StreamJob.objects.filter(pk=job_id).update(state=JobState.STOPPED)  # the worker released it
    assert channels_keep_playing()["deleted"] == 1
    assert not StreamJob.objects.filter(pk=job_id).exists()
