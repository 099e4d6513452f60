"""Start and stop a channel: its own stream job plays the playout (inputs.channel_input).

The job is an ordinary stream job with input kind `channel`: the engine's lease,
reconciler, reconnects and hints supervise it like any other. Its loop makes the
worker start the next ffmpeg when one has played its window, and every ffmpeg
starts where the schedule is at that moment, so a restart after a killed worker
joins the row that should be playing at the right offset.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from apps.accounts.audit import audit_record
from apps.channels.models import Channel, ChannelMode
from apps.channels.play import conf
from apps.channels.play.live import mark_stopped
from apps.channels.play.models import ChannelPlayer
from apps.channels.play.paths import hls_dir
from apps.streams.models import InputKind, JobState, StreamJob
from apps.streams.services import (
    stream_job_create,
    stream_job_delete,
    stream_job_start,
    stream_job_stop,
    stream_job_update,
)
from castcore.api.errors import ApiError, Conflict

logger = logging.getLogger(__name__)

RUNNING = (JobState.STARTING, JobState.RUNNING, JobState.RECONNECTING)
# A channel plays on until it is stopped: a failed ffmpeg (a missing file, a killed
# worker) is retried for as long as it takes, quickly at first.
JOB_FIELDS = {
    "input_kind": InputKind.CHANNEL,
    "loop": True,
    "realtime": True,
    "reconnect_max_attempts": None,
    "reconnect_base_seconds": 0.2,
    "reconnect_cap_seconds": 10.0,
    "stall_timeout_seconds": 20.0,
}


def _outputs(channel: Channel) -> list[dict[str, Any]]:
    """The channel's HLS, then its restream outputs."""
    outputs: list[dict[str, Any]] = [
        {"name": "channel HLS", "kind": "hls", "url": str(hls_dir(channel.pk)), "enabled": True}
    ]
    for output in channel.outputs.all():
        outputs.append(
            {"name": output.name or output.kind, "kind": output.kind, "url": output.url,
             "stream_key": output.stream_key, "enabled": output.enabled}
        )  # fmt: skip
    return outputs


def _job_fields(channel: Channel) -> dict[str, Any]:
    return {**JOB_FIELDS, "name": f"channel {channel.number} {channel.name}"[:200],
            "profile": channel.output_profile}  # fmt: skip


def _player(channel: Channel, *, actor: Any) -> ChannelPlayer:
    """The channel's player, its job made or brought up to date with the channel."""
    if channel.output_profile is None:
        raise ApiError("channel.profile_required", {"field": "output_profile"})
    hls_dir(channel.pk).mkdir(parents=True, exist_ok=True)
    player = ChannelPlayer.objects.select_for_update().filter(channel=channel).first()
    if player is None:
        job = stream_job_create(actor=actor, outputs=_outputs(channel), **_job_fields(channel))
        return ChannelPlayer.objects.create(channel=channel, job=job)
    stream_job_update(
        actor=actor, job=player.job, outputs=_outputs(channel), **_job_fields(channel)
    )
    return player


def channel_player(*, channel: Channel, actor: Any) -> ChannelPlayer:
    """The channel's player, its job made on first use (a start, recording turned on)."""
    with transaction.atomic():
        found = ChannelPlayer.objects.select_for_update().filter(channel=channel).first()
        return found or _player(channel, actor=actor)


def channel_start(
    *, actor: Any, channel: Channel, request: HttpRequest | None = None
) -> ChannelPlayer:
    """Stopped → playing: the channel's job starts (a no-op when it plays already)."""
    if not channel.enabled:
        raise ApiError("channel.disabled", {"channel": channel.pk}, status_code=409)
    with transaction.atomic():
        player = _player(channel, actor=actor)
        ChannelPlayer.objects.filter(pk=player.pk).update(wanted=True)
        player.wanted = True
        job = StreamJob.objects.get(pk=player.job_id)
        if job.state not in RUNNING:
            stream_job_start(actor=actor, job=job, request=request)
        _audit(actor, "channel.start", channel, request)
    return player


def _audit(actor: Any, action: str, channel: Channel, request: HttpRequest | None) -> None:
    # Someone asked (the API, the admin, a scheduled action); the periodic step does not.
    if actor is not None:
        audit_record(actor=actor, action=action, target=channel, request=request)


def channel_stop(*, actor: Any, channel: Channel, request: HttpRequest | None = None) -> bool:
    """Playing → stopped. False when it had never played."""
    with transaction.atomic():
        player = ChannelPlayer.objects.select_for_update().filter(channel=channel).first()
        if player is None:
            return False
        ChannelPlayer.objects.filter(pk=player.pk).update(wanted=False)
        stream_job_stop(actor=actor, job=player.job, request=request)
        _audit(actor, "channel.stop", channel, request)
        # Its playlist stays on disk (the next run continues the numbering): what it
        # lists must no longer be served as live.
        transaction.on_commit(lambda: mark_stopped(channel.pk))
    return True


def channel_playing(*, channel: Channel) -> dict[str, Any]:
    """Whether the channel is wanted on the air, and its job and the job's state."""
    player = ChannelPlayer.objects.select_related("job").filter(channel=channel).first()
    if player is None:
        return {"channel": channel.pk, "wanted": False, "job": None, "state": JobState.STOPPED}
    return {"channel": channel.pk, "wanted": player.wanted, "job": player.job_id,
            "state": player.job.state}  # fmt: skip


def channel_jobs_forget(*, job_ids: list[int] | None = None) -> int:
    """Delete the stopped jobs of deleted channels (their player went with the channel).

    A job a worker still runs is left for the next pass: the stop reaches the worker
    first, and a stream job is deleted only once it is idle.
    """
    orphans = StreamJob.objects.filter(input_kind=InputKind.CHANNEL).exclude(
        pk__in=ChannelPlayer.objects.values("job_id")
    )
    if job_ids is not None:
        orphans = orphans.filter(pk__in=job_ids)
    deleted = 0
    for job in orphans:
        try:
            stream_job_delete(actor=None, job=job)
            deleted += 1
        except Conflict:
            pass  # still stopping
    return deleted


def channel_viewer_seen(*, channel: Channel) -> bool:
    """A viewer asked for the playlist: note it; start an on-demand channel that is not
    playing. True when it had to be started (the playlist comes in a few seconds)."""
    # Players poll the playlist every segment or two: the database hears of a channel's
    # viewers once per part of the idle time, which is all the idle rule needs.
    if not cache.add(f"channels:viewer_seen:{channel.pk}", 1, max(1, conf.IDLE_SECONDS // 6)):
        return False
    now = timezone.now()
    updated = ChannelPlayer.objects.filter(channel=channel).update(last_viewer_at=now)
    if channel.mode != ChannelMode.ON_DEMAND:
        return False
    player = ChannelPlayer.objects.filter(channel=channel).select_related("job").first()
    if updated and player is not None and player.wanted and player.job.state in RUNNING:
        return False
    channel_start(actor=None, channel=channel)
    ChannelPlayer.objects.filter(channel=channel).update(last_viewer_at=now)
    return True


def channels_keep_playing(*, now: Any = None) -> dict[str, int]:
    """The periodic step: start always-on channels that should play and do not (never
    started, a window the job completed, a failure), stop disabled channels and on-demand
    channels no one watched for a while, and delete the jobs of deleted channels."""
    now = now or timezone.now()
    started = stopped = 0
    idle_before = now - timedelta(seconds=conf.IDLE_SECONDS)
    players = ChannelPlayer.objects.select_related("channel", "job").filter(wanted=True)
    for player in players:
        channel = player.channel
        try:
            idle = channel.mode == ChannelMode.ON_DEMAND and (
                player.last_viewer_at is None or player.last_viewer_at < idle_before
            )
            if idle or not channel.enabled:
                channel_stop(actor=None, channel=channel)
                stopped += 1
            elif player.job.state not in RUNNING:
                channel_start(actor=None, channel=channel)
                started += 1
        except ApiError as exc:
            logger.warning("channel %s could not be kept playing: %s", channel.pk, exc.code)
    # An always-on channel plays without being asked: one never started has no player.
    # A player stopped on purpose (wanted=False: the API, the scheduler) stays stopped.
    never_started = Channel.objects.filter(
        enabled=True, mode=ChannelMode.ALWAYS_ON, output_profile__isnull=False, player__isnull=True
    )
    for channel in never_started:
        try:
            channel_start(actor=None, channel=channel)
            started += 1
        except ApiError as exc:
            logger.warning("channel %s could not be started: %s", channel.pk, exc.code)
    return {"started": started, "stopped": stopped, "deleted": channel_jobs_forget()}
