"""A channel's stream job input: its playout rows from now on, as one concat playlist.

Built at every ffmpeg start (a start, a restart after a killed worker, the next
window, a respawn after the rows changed), from the wall clock: the first entry
starts at the offset the schedule says plays now, so a channel always joins its
schedule at the right point. The window takes every row that begins within
WINDOW_SECONDS, whole: it ends at an item boundary, where the picture cuts anyway.
Its output timestamps are the schedule's own clock, seconds from the player's epoch,
so they go on increasing from one ffmpeg to the next.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from apps.channels.models import Channel, PlayoutRow
from apps.channels.play import conf
from apps.channels.play.paths import PLAYLIST, channels_root, hls_dir
from apps.channels.selectors import rows_between
from apps.media.storage.base import StorageError
from apps.streams.models import StreamJob
from workers.ffmpeg import spec as engine
from workers.ffmpeg.slate import SlateError, black_clip, slate_clip

logger = logging.getLogger(__name__)

NOTHING_TO_PLAY = "channel.nothing_to_play"
# The black clip is 10 s long (workers.ffmpeg.slate): a longer gap airs several cuts.
BLACK_PART_SECONDS = 9.5
NOT_A_CHANNEL = "spec.channel_only"
RELAY_NOT_LIVE = "channel.not_live_yet"
# A relay copies what the channel's own ffmpeg encoded: nothing is encoded twice.
RELAY_PROFILE = engine.ProfileSpec(
    video_codec=engine.VideoCodec.COPY, audio_codec=engine.AudioCodec.COPY
)


def _local_path(row: PlayoutRow) -> str | None:
    """A local file ffmpeg's concat demuxer can open for the row, or None."""
    if row.replay_id is not None:
        return _recording_path(row)
    item = row.media_item
    if item is None or item.missing or not item.source.enabled:
        return None
    try:
        location = item.source.backend().open_for_ffmpeg(item.relpath)
    except StorageError:
        return None
    # A bucket's presigned URL cannot be a concat entry under the demuxer whitelist.
    return location.url_or_path if location.protocol_whitelist == "file" else None


def _recording_path(row: PlayoutRow) -> str | None:
    """A re-aired replay's recording file, when it is still there."""
    recording = row.replay.recording if row.replay is not None else None
    if recording is None or not recording.file or recording.is_hidden:
        return None
    try:
        path = recording.file.path
    except NotImplementedError:  # a storage without local paths
        return None
    return path if os.path.isfile(path) else None


def playlist_from(
    rows: list[PlayoutRow],
    at: datetime,
    *,
    black: Callable[[], str],
    slate: Callable[[PlayoutRow], str | None] = lambda row: None,
) -> engine.PlaylistInput:
    """The rows as concat entries from `at`: each its in/out points, the first cut at `at`.

    A slate row airs cuts of its image's clip (`slate(row)`). A row with nothing local
    to play (black filler, a slate that cannot be made, an item in a bucket) and a hole
    between rows air cuts of the black clip `black()` gives, so the list keeps the
    schedule's times and the picture goes on.
    """
    paths: list[str] = []
    inpoints: list[float | None] = []
    outpoints: list[float | None] = []

    def add(path: str, start: float, end: float) -> None:
        if end - start >= 0.05:  # less is its last instant: nothing left to show
            paths.append(path)
            inpoints.append(start or None)
            outpoints.append(end)

    def add_black(seconds: float, clip: str | None = None) -> None:
        clip = clip or black()
        while seconds >= 0.05:
            part = min(seconds, BLACK_PART_SECONDS)
            add(clip, 0.0, part)
            seconds -= part

    cursor = at
    for row in rows:
        if row.end <= cursor:
            continue
        if row.start > cursor:
            add_black((row.start - cursor).total_seconds())
            cursor = row.start
        skip = (cursor - row.start).total_seconds()
        path = _local_path(row)
        if path is None:
            add_black(row.seconds - skip, slate(row) if row.asset_id is not None else None)
        else:
            add(path, row.in_point + skip, row.in_point + row.seconds)
        cursor = row.end
    if not paths:
        raise engine.SpecError(NOTHING_TO_PLAY, at=at.isoformat())
    return engine.PlaylistInput(
        paths=tuple(paths), inpoints=tuple(inpoints), outpoints=tuple(outpoints)
    )


@dataclass(frozen=True)
class ChannelWindow:
    """What one ffmpeg of a channel plays: its input, and the schedule span it covers."""

    input: engine.PlaylistInput
    start: datetime  # the schedule's instant of its first frame
    end: datetime | None  # where its last row ends (an item boundary); None: unresolved
    ts_offset_s: float  # its first frame's timestamp: seconds from the player's epoch


def channel_input(job: StreamJob, *, resolve: bool) -> engine.PlaylistInput:
    """The input of the channel that owns `job`, from now to the window's end."""
    return channel_window(job, resolve=resolve).input


def channel_window(job: StreamJob, *, resolve: bool, record: bool = False) -> ChannelWindow:
    """The window of the channel that owns `job` from now on. `record`: an ffmpeg will
    play it, so the player keeps its span for rebuilds to compare with (services)."""
    from apps.channels.play.models import ChannelPlayer

    if not resolve:
        # Saving the job checks its rows only (the channel creates it before its player).
        return ChannelWindow(engine.PlaylistInput(paths=("/channel",)), timezone.now(), None, 0.0)
    player = (
        ChannelPlayer.objects.filter(job_id=job.pk)
        .select_related("channel__output_profile", "job__profile")
        .first()
    )
    if player is None:
        raise engine.SpecError(NOT_A_CHANNEL, field="input_kind")
    profile = player.channel.output_profile or player.job.profile

    # Made (once per size) before the clock is read: making it takes a second or so,
    # which the start would otherwise lag by.
    try:
        clip = str(
            black_clip(
                channels_root() / "slates",
                width=profile.width or 1280,
                height=profile.height or 720,
                rate=round(profile.fps or 25),
            )
        )
    except SlateError as exc:
        raise engine.SpecError(exc.code) from None

    size = (profile.width or 1280, profile.height or 720, round(profile.fps or 25))
    with transaction.atomic():
        # The channel's row lock orders this read with rebuilds (services.playout): a
        # rebuild either comes first, and these rows are its own, or sees this window.
        Channel.objects.select_for_update().filter(pk=player.channel_id).exists()
        now = timezone.now() + timedelta(seconds=conf.START_LEAD_SECONDS)
        rows = list(
            rows_between(player.channel, now, now + timedelta(seconds=conf.WINDOW_SECONDS))
            .select_related("media_item__source", "replay__recording", "asset")
            .order_by("start")
        )
        end = rows[-1].end if rows else now
        if record:
            ChannelPlayer.objects.filter(pk=player.pk).update(window_start=now, window_end=end)
            _hand_over_at(job, end)
    slates: dict[int | None, str | None] = {}

    def slate(row: PlayoutRow) -> str | None:
        if row.asset_id not in slates:
            slates[row.asset_id] = _slate_path(row, size)
        return slates[row.asset_id]

    playlist = playlist_from(rows, now, black=lambda: clip, slate=slate)
    return ChannelWindow(playlist, now, end, max(0.0, (now - player.epoch).total_seconds()))


def _hand_over_at(job: StreamJob, end: datetime) -> None:
    """Have the next ffmpeg take over from this one as its window ends, START_LEAD_SECONDS
    early, as after a schedule change (services.channel_window_follow): this one is that far
    ahead of the clock, the next joins the schedule that far ahead, so the picture changes
    on time. A window too short for it just plays out (the job's loop goes on).

    It replaces any pending request: this window is read under the channel's lock, so a
    rebuild that asked for an earlier instant before it has its rows in it already."""
    from apps.streams.services import stream_job_respawn_replace

    at = end - timedelta(seconds=conf.START_LEAD_SECONDS)
    if (at - timezone.now()).total_seconds() < conf.HAND_OVER_MIN_SECONDS:
        stream_job_respawn_replace(job_id=job.pk, at=None)
    else:
        stream_job_respawn_replace(job_id=job.pk, at=at)


def _slate_path(row: PlayoutRow, size: tuple[int, int, int]) -> str | None:
    """The row's slate image looped as a clip (made once, then reused), or None: black."""
    asset = row.asset
    if asset is None or not asset.file:
        return None
    try:
        width, height, rate = size
        folder = channels_root() / "slates"
        return str(slate_clip(folder, asset.file.path, width=width, height=height, rate=rate))
    except (NotImplementedError, SlateError) as exc:  # a storage without paths; a bad image
        logger.warning("slate %s airs as black: %s", asset.pk, getattr(exc, "code", exc))
        return None


def relay_input(job: StreamJob, *, live_only: bool = False) -> engine.FollowedHlsInput | None:
    """The input of a channel's relay job (the channel's own HLS, followed from its live
    edge), or None when `job` is not a relay.

    `live_only` (an ffmpeg is about to read it): until the channel's current session has
    written a segment, InputNotReady, and the run waits. The reader starts at the
    playlist's newest segment, which before that is the previous session's last one
    (the playlist outlives a stop): a receiver, and a recording, would begin with a few
    seconds of what aired before the stop.
    """
    from apps.channels.play.live import live_playlist
    from apps.channels.play.models import ChannelPlayer

    channel_id = (
        ChannelPlayer.objects.filter(relay_job_id=job.pk).values_list("channel_id", flat=True)
    ).first()
    if channel_id is None:
        return None
    if live_only and live_playlist(channel_id) is None:
        raise engine.InputNotReady(RELAY_NOT_LIVE, channel=channel_id)
    return engine.FollowedHlsInput(playlist=str(hls_dir(channel_id) / PLAYLIST))


def channel_hls(output: engine.HlsOutput) -> engine.HlsOutput:
    """A channel's HLS output: short segments, the playlist continued across ffmpegs, and
    each segment's wall-clock time (EXT-X-PROGRAM-DATE-TIME), so a player can tell what
    the guide lists for the frame it shows, however far behind the live edge it plays."""
    return replace(
        output,
        append=True,
        segment_seconds=conf.SEGMENT_SECONDS,
        list_size=conf.LIST_SIZE,
        program_date_time=True,
    )
