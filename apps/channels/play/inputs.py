"""A channel's stream job input: its playout rows from now on, as one concat playlist.

Built at every ffmpeg start (a start, a restart after a killed worker, the next
window), from the wall clock: the first entry starts at the offset the schedule
says plays now, so a channel always joins its schedule at the right point.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from apps.channels.models import PlayoutRow
from apps.channels.play import conf
from apps.channels.selectors import rows_between
from apps.media.storage.base import StorageError
from apps.streams.models import StreamJob
from workers.ffmpeg import spec as engine

NOTHING_TO_PLAY = "channel.nothing_to_play"
NOT_A_CHANNEL = "spec.channel_only"


def _local_path(row: PlayoutRow) -> str | None:
    """A local file ffmpeg's concat demuxer can open for the row, or None."""
    item = row.media_item
    if item is None or item.missing or not item.source.enabled:
        return None
    try:
        location = item.source.backend().open_for_ffmpeg(item.relpath)
    except StorageError:
        return None
    # A bucket's presigned URL cannot be a concat entry under the demuxer whitelist.
    return location.url_or_path if location.protocol_whitelist == "file" else None


def playlist_from(rows: list[PlayoutRow], at: datetime) -> engine.PlaylistInput:
    """The rows as concat entries from `at`: each its in/out points, the first cut at `at`.

    Stops at the first row with nothing local to play (black, a slate, a bucket item):
    the job's loop starts the next ffmpeg when that row's time comes.
    """
    paths: list[str] = []
    inpoints: list[float | None] = []
    outpoints: list[float | None] = []
    previous_end: datetime | None = None
    for row in rows:
        path = _local_path(row)
        if path is None or (
            previous_end is not None and (row.start - previous_end).total_seconds() > 0.05
        ):
            break  # nothing to play, or a hole in the rows: the next ffmpeg starts there
        previous_end = row.end
        start = row.in_point + max(0.0, (at - row.start).total_seconds())
        end = row.in_point + row.seconds
        if end - start < 0.05:  # its last instant: nothing left to show
            continue
        paths.append(path)
        inpoints.append(start or None)
        outpoints.append(end)
    if not paths:
        raise engine.SpecError(NOTHING_TO_PLAY, at=at.isoformat())
    return engine.PlaylistInput(
        paths=tuple(paths), inpoints=tuple(inpoints), outpoints=tuple(outpoints)
    )


def channel_input(job: StreamJob, *, resolve: bool) -> engine.PlaylistInput:
    """The input of the channel that owns `job`, from now to the window's end."""
    from apps.channels.play.models import ChannelPlayer

    player = ChannelPlayer.objects.filter(job_id=job.pk).select_related("channel").first()
    if player is None:
        raise engine.SpecError(NOT_A_CHANNEL, field="input_kind")
    if not resolve:
        return engine.PlaylistInput(paths=("/channel",))
    now = timezone.now()
    rows = list(
        rows_between(player.channel, now, now + timedelta(seconds=conf.WINDOW_SECONDS))
        .select_related("media_item__source")
        .order_by("start")
    )
    return playlist_from(rows, now)
