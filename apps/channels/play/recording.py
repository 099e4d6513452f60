"""Recording a channel: what it airs, one file per recording session.

The channel's relay job records (its `recording_enabled`): it copies the channel's own
HLS without re-encoding and outlives the replacements of the channel's ffmpeg (each
window's end, each schedule change), so one recording runs from "record on" to
"record off" or the channel's stop, and becomes one video recording then. The relay
runs while the channel plays and restreams or records (services.channel_relay_follow).
The recording names the relay job (`stream_job_id`), the channel's `recording_job`:
`GET /api/v1/recordings?stream_job={recording_job}` lists a channel's recordings and
`GET /api/v1/channels?job={stream_job_id}` finds a recording's channel. A finished one
is published as a replay through /api/v1/replay like any other.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import HttpRequest

from apps.accounts.audit import audit_record
from apps.channels.models import Channel
from apps.channels.play.models import ChannelPlayer
from apps.channels.play.services import (
    RUNNING,
    channel_player,
    channel_relay,
    channel_relay_follow,
)
from apps.streams.models import StreamJob
from apps.streams.services import stream_job_set_recording
from apps.streams.services.jobs import RecordingApplies


def channel_set_recording(
    *, actor: Any, channel: Channel, enabled: bool, request: HttpRequest | None = None
) -> tuple[ChannelPlayer, RecordingApplies]:
    """Turn recording of the channel on or off.

    A channel that plays records from now (its relay starts, or restarts its ffmpeg
    within the same run with the recording file) or stops now (the relay restarts
    without it, or stops when it has no restream output); one that does not records
    from its next start (its jobs are made now if it never played). Its recordings
    belong to whoever turned recording on last: a recording needs an owner, and a
    channel's job started by the periodic step, the scheduler or a first viewer has none.
    """
    with transaction.atomic():
        player = channel_player(channel=channel, actor=actor)
        ChannelPlayer.objects.select_for_update().filter(pk=player.pk).exists()
        player.refresh_from_db()
        job = StreamJob.objects.get(pk=player.job_id)
        if job.recording_enabled:
            # Recorded by the channel's own job before the relay did (one file a window):
            # that job records no more.
            stream_job_set_recording(actor=actor, job=job, enabled=False, request=request)
        if player.relay_job is None and not enabled:
            applies = RecordingApplies.UNCHANGED
        elif player.relay_job is None:
            channel_relay(player=player, actor=actor, recording=True)
            applies = RecordingApplies.NEXT_START
        else:
            relay = channel_relay(player=player, actor=actor)
            _, applies = stream_job_set_recording(
                actor=actor, job=relay, enabled=enabled, request=request
            )
            if enabled:  # its stale outputs, if it was idle, are the channel's now
                channel_relay(player=player, actor=actor)
        assert player.relay_job is not None or not enabled
        if enabled and getattr(actor, "is_authenticated", False) and player.relay_job:
            StreamJob.objects.filter(pk=player.relay_job.pk).update(owner=actor)
        if applies != RecordingApplies.UNCHANGED:
            channel_relay_follow(player=player, actor=actor, request=request)
            audit_record(
                actor=actor,
                action="channel.recording",
                target=channel,
                changes={"recording_enabled": [not enabled, enabled]},
                request=request,
            )
            if (
                player.relay_job is not None
                and StreamJob.objects.filter(pk=player.relay_job.pk, state__in=RUNNING).exists()
            ):
                applies = RecordingApplies.RESTARTED  # it records (or stopped) from now
    return player, applies


def channel_recording_enabled(player: ChannelPlayer | None) -> bool:
    """Whether the channel records (its relay job's setting)."""
    relay = player.relay_job if player is not None else None
    return bool(relay is not None and relay.recording_enabled)
