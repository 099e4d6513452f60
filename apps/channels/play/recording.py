"""Recording a channel: what it airs, written to a file by the job that plays it.

The channel's stream job records as any job does (its `recording_enabled`, toggled by
stream_job_set_recording): each of its ffmpeg processes writes a Matroska file beside
its HLS, and the file becomes a video recording when that process ends (the channel
stopped, recording turned off, the window played through). The recording names the
job (`stream_job_id`), which is the channel's for as long as the channel exists, so
`GET /api/v1/recordings?stream_job={job}` lists a channel's recordings and
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
from apps.channels.play.services import channel_player
from apps.streams.models import StreamJob
from apps.streams.services import stream_job_set_recording
from apps.streams.services.jobs import RecordingApplies


def channel_set_recording(
    *, actor: Any, channel: Channel, enabled: bool, request: HttpRequest | None = None
) -> tuple[ChannelPlayer, RecordingApplies]:
    """Turn recording of the channel on or off.

    A channel that plays restarts its ffmpeg at once, within the same run, so the file
    starts (or ends) now; one that does not records from its next start (its job is
    made now if it never played). Its recordings belong to whoever turned recording on
    last: a recording needs an owner, and a channel's job started by the periodic step,
    the scheduler or a first viewer has none.
    """
    with transaction.atomic():
        player = channel_player(channel=channel, actor=actor)
        if enabled and getattr(actor, "is_authenticated", False):
            StreamJob.objects.filter(pk=player.job_id).update(owner=actor)
        job = StreamJob.objects.get(pk=player.job_id)
        job, applies = stream_job_set_recording(
            actor=actor, job=job, enabled=enabled, request=request
        )
        if applies != RecordingApplies.UNCHANGED:
            audit_record(
                actor=actor,
                action="channel.recording",
                target=channel,
                changes={"recording_enabled": [not enabled, enabled]},
                request=request,
            )
    return player, applies
