"""Compiling a channel's schedule into playout rows, extending and rebuilding them.

The one mapping layer between the ORM and the Django-free compiler
(apps.channels.playout.compile): playlists are expanded here into entries whose
durations are the media library's ffprobe figures.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Max, Q
from django.utils import timezone

from apps.channels import conf
from apps.channels.metadata import description_from_tags, guide_text
from apps.channels.models import (
    Channel,
    ItemKind,
    Playlist,
    PlaylistItem,
    PlayoutRow,
    ScheduleBlock,
)
from apps.channels.playout.compile import (
    BlockSpec,
    Entry,
    Filler,
    Fixed,
    PlaylistSequence,
    RowSpec,
    compile_playout,
)
from apps.channels.replays.models import Replay
from apps.channels.services.guide import guide_warm_on_commit
from apps.media.models import MediaItem

logger = logging.getLogger(__name__)

#: Items shorter than this (a broken probe, a 1-frame file) never air.
MIN_ITEM_SECONDS = 0.04
_BATCH = 1000


def _airable(items: Any) -> Any:
    return items.filter(missing=False, probe_error_code="", duration__gt=MIN_ITEM_SECONDS).order_by(
        "relpath", "id"
    )


def _entry(
    item_id: int, relpath: str, duration: float, tags: Any, pi: PlaylistItem | None
) -> Entry | None:
    start = max(0.0, (pi.in_point if pi else None) or 0.0)
    stop = duration
    if pi is not None and pi.out_point is not None:
        stop = min(stop, pi.out_point)
    if stop - start <= MIN_ITEM_SECONDS:
        return None
    title = guide_text(relpath).title[:300]
    return Entry(item_id, start, stop - start, title, description_from_tags(tags))


def playlist_entries(playlist: Playlist, *, _depth: int = 0) -> list[Entry]:
    """The playlist flattened: folders and sources expanded (by path), child playlists inlined.

    Missing, unprobed and failed items are skipped; a child playlist contributes
    its entries in its listed order (the parent's order applies to the result).
    """
    if _depth > conf.MAX_PLAYLIST_DEPTH:
        return []
    entries: list[Entry] = []
    items = PlaylistItem.objects.filter(playlist=playlist).select_related("media_item", "child")
    for pi in items.order_by("position", "id"):
        if pi.kind == ItemKind.MEDIA and pi.media_item is not None:
            media = pi.media_item
            if media.missing or media.probe_error_code or not media.duration:
                continue
            tags = (media.probe or {}).get("tags") if isinstance(media.probe, dict) else None
            entry = _entry(media.pk, media.relpath, media.duration, tags, pi)
            if entry is not None:
                entries.append(entry)
        elif pi.kind in (ItemKind.FOLDER, ItemKind.SOURCE):
            found = MediaItem.objects.filter(source_id=pi.source_id)
            if pi.kind == ItemKind.FOLDER and pi.folder:
                found = found.filter(relpath__startswith=pi.folder.strip("/") + "/")
            listed = _airable(found).values_list("pk", "relpath", "duration", "probe__tags")
            for pk, relpath, duration, tags in listed:
                entry = _entry(pk, relpath, duration, tags, None)
                if entry is not None:
                    entries.append(entry)
        elif pi.kind == ItemKind.PLAYLIST and pi.child is not None:
            entries.extend(playlist_entries(pi.child, _depth=_depth + 1))
    return entries


def _sequence(channel: Channel, playlist: Playlist) -> PlaylistSequence:
    return PlaylistSequence(
        playlist_id=playlist.pk,
        entries=playlist_entries(playlist),
        order=playlist.order,
        seed=str(channel.pk),
    )


def _block_spec(block: ScheduleBlock) -> BlockSpec:
    return BlockSpec(
        id=block.pk,
        playlist_id=block.playlist_id,
        start_time=block.start_time,
        weekdays=block.weekdays,
        mode=block.mode,
        duration=float(block.duration) if block.duration else None,
        count=block.count,
    )


def _cursors(channel: Channel) -> dict[int, int]:
    """Each playlist's next position: one past the last row kept from it."""
    rows = (
        PlayoutRow.objects.filter(channel=channel, playlist__isnull=False, seq__isnull=False)
        .values("playlist_id")
        .annotate(last=Max("seq"))
    )
    return {row["playlist_id"]: row["last"] + 1 for row in rows}


def _last_items(channel: Channel, cursors: dict[int, int]) -> dict[int, int | None]:
    """Each playlist's media item in its last row kept (at its cursor's position less one):
    a shuffle does not air it again first (compile._Timeline.next_entry)."""
    last = Q(pk__in=[])
    for playlist_id, cursor in cursors.items():
        last |= Q(playlist_id=playlist_id, seq=cursor - 1)
    rows = PlayoutRow.objects.filter(last, channel=channel).order_by("start")
    return dict(rows.values_list("playlist_id", "media_item_id"))


def _compile_from(channel: Channel, start: datetime, end: datetime) -> int:
    blocks = list(ScheduleBlock.objects.filter(channel=channel).select_related("playlist"))
    playlists = {b.playlist_id: b.playlist for b in blocks}  # each expanded once
    sequences = {pk: _sequence(channel, playlist) for pk, playlist in playlists.items()}
    filler_playlist = channel.filler_playlist
    filler = Filler(
        sequence=_sequence(channel, filler_playlist) if filler_playlist else None,
        asset_id=channel.filler_asset_id,
        title=channel.name,
    )

    def aired_since(block_id: int, since: datetime) -> int:
        return PlayoutRow.objects.filter(
            channel=channel, block_id=block_id, filler=False, start__gte=since, start__lt=start
        ).count()

    cursors = _cursors(channel)
    specs = compile_playout(
        fixed=reairs(channel, start, end),
        blocks=[_block_spec(b) for b in blocks],
        sequences=sequences,
        filler=filler,
        zone=channel.zone,
        start=start,
        end=end,
        cursors=cursors,
        last_items=_last_items(channel, cursors),
        aired_since=aired_since,
    )
    return _insert(channel, [r for r in specs if r.end > r.start])


def reairs(channel: Channel, start: datetime, end: datetime) -> list[Fixed]:
    """The replays re-aired on `channel` that touch [start, end): fixed airings."""
    found = Replay.objects.filter(
        reair_channel=channel,
        reair_at__lt=end,
        recording__duration__gt=MIN_ITEM_SECONDS,
    ).values_list("pk", "reair_at", "recording__duration", "title", "description")
    return [
        Fixed(at, duration, pk, title[:300], description)
        for pk, at, duration, title, description in found
        if at is not None and at + timedelta(seconds=duration) > start
    ]


_COLUMNS = (
    "channel_id", "start", "end", "media_item_id", "asset_id", "in_point", "out_point",
    "filler", "block_id", "playlist_id", "seq", "title", "replay_id", "description",
)  # fmt: skip


def _utc_text(at: datetime) -> str:
    """A UTC datetime as Django stores it in SQLite ("YYYY-MM-DD HH:MM:SS[.ffffff]", what
    feeds.EpochMicros reads): the backend's adapter checks settings and zones per value,
    a fifth of the compile's CPU. The compiler's times are all UTC already."""
    if at.utcoffset():
        at = at.astimezone(UTC)
    return at.replace(tzinfo=None).isoformat(" ")


def _insert(channel: Channel, specs: list[RowSpec]) -> int:
    """Write the rows as multi-row INSERTs, as many rows a statement as the backend allows.

    bulk_create spent ~0.3 ms a row building and preparing model instances, and
    executemany a round trip a row on PostgreSQL: a week of 100 channels with
    short filler is half a million rows (bench/epg.py). Values are adapted by the
    backend's own operations, as the ORM would.
    """
    ops = connection.ops
    table = ops.quote_name(PlayoutRow._meta.db_table)
    columns = ", ".join(ops.quote_name(c) for c in _COLUMNS)
    one = "(" + ", ".join(["%s"] * len(_COLUMNS)) + ")"
    max_params = connection.features.max_query_params or 60000
    batch = max(1, min(_BATCH, max_params // len(_COLUMNS)))
    adapt = _utc_text if connection.vendor == "sqlite" else ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        for i in range(0, len(specs), batch):
            chunk = specs[i : i + batch]
            params: list[Any] = []
            for r in chunk:
                params += (
                    channel.pk, adapt(r.start), adapt(r.end), r.media_item_id, r.asset_id,
                    r.in_point, r.out_point, r.filler, r.block_id, r.playlist_id, r.seq,
                    r.title[:300], r.replay_id, r.description,
                )  # fmt: skip
            values = ", ".join([one] * len(chunk))
            cursor.execute(f"INSERT INTO {table} ({columns}) VALUES {values}", params)  # noqa: S608 (fixed names)
    return len(specs)


def _horizon(now: datetime, horizon: timedelta | None) -> datetime:
    return now + (horizon or timedelta(days=conf.PLAYOUT_HORIZON_DAYS))


def playout_rebuild(
    *,
    channel: Channel,
    since: datetime | None = None,
    now: datetime | None = None,
    horizon: timedelta | None = None,
) -> int:
    """Recompile the channel's playout from `since` (default now) to the horizon.

    The past is history and stays. The row airing at the change point stays too
    (the engine is playing it); the rebuild starts where it ends, and each
    playlist resumes after the last row kept from it. Returns the rows written.
    After the commit a worker renders the channel's guide (services/guide.py). When
    rows inside the window the channel's ffmpeg plays changed, it is replaced from the
    first changed row (apps.channels.play.services.channel_window_follow).
    """
    from apps.channels.play.services import channel_window_follow, playing_window

    now = now or timezone.now()
    start = max(since or now, now)
    with transaction.atomic():
        # One compile per channel at a time: the row lock orders concurrent rebuilds.
        locked = Channel.objects.select_for_update().get(pk=channel.pk)
        airing = PlayoutRow.objects.filter(channel=locked, start__lte=start, end__gt=start).first()
        if airing is not None:
            start = airing.end
        playing = playing_window(channel=locked, since=start)
        PlayoutRow.objects.filter(channel=locked, start__gte=start).delete()
        written = _compile_from(locked, start, _horizon(now, horizon))
        Channel.objects.filter(pk=locked.pk).update(playout_compiled_at=now)
        if playing is not None:
            channel_window_follow(window=playing)
        guide_warm_on_commit([locked.pk])
    return written


def playout_extend(
    *, channel: Channel, now: datetime | None = None, horizon: timedelta | None = None
) -> int:
    """Compile from the end of the last row (or now, after a lapse) up to the horizon."""
    now = now or timezone.now()
    end = _horizon(now, horizon)
    with transaction.atomic():
        locked = Channel.objects.select_for_update().get(pk=channel.pk)
        last_end = (
            PlayoutRow.objects.filter(channel=locked).aggregate(last=Max("end"))["last"] or now
        )
        if last_end >= end:
            return 0
        written = _compile_from(locked, max(last_end, now), end)
        Channel.objects.filter(pk=locked.pk).update(playout_compiled_at=now)
        if written:
            guide_warm_on_commit([locked.pk])
    return written


def _playlists_used(channel: Channel) -> set[int]:
    """The playlists a channel's playout reads: its blocks', its filler's, and their children."""
    found = set(ScheduleBlock.objects.filter(channel=channel).values_list("playlist_id", flat=True))
    if channel.filler_playlist_id:
        found.add(channel.filler_playlist_id)
    frontier = set(found)
    for _ in range(conf.MAX_PLAYLIST_DEPTH):
        children = set(
            PlaylistItem.objects.filter(playlist_id__in=frontier, child__isnull=False).values_list(
                "child_id", flat=True
            )
        )
        frontier = children - found
        if not frontier:
            break
        found |= frontier
    return found


def playout_inputs_changed_since(channel: Channel, since: datetime) -> bool:
    """Whether a block, playlist, media item or re-air the channel airs changed after
    `since`, or a row still to air lost its media item or replay (deleted)."""
    if ScheduleBlock.objects.filter(channel=channel, updated_at__gt=since).exists():
        return True
    if Replay.objects.filter(reair_channel=channel, updated_at__gt=since).exists():
        return True
    to_air = PlayoutRow.objects.filter(channel=channel, end__gt=timezone.now(), filler=False)
    if to_air.filter(media_item__isnull=True, replay__isnull=True).exists():
        return True
    if to_air.filter(replay__isnull=False).exclude(replay__reair_channel=channel).exists():
        return True  # a re-air moved to another channel
    playlists = _playlists_used(channel)
    if Playlist.objects.filter(pk__in=playlists, updated_at__gt=since).exists():
        return True
    items = PlaylistItem.objects.filter(playlist_id__in=playlists)
    media = Q(pk__in=items.filter(kind=ItemKind.MEDIA).values("media_item_id"))
    for source_id, folder in items.filter(kind=ItemKind.FOLDER).values_list("source_id", "folder"):
        media |= Q(source_id=source_id, relpath__startswith=folder.strip("/") + "/")
    sources = items.filter(kind=ItemKind.SOURCE).values("source_id")
    media |= Q(source_id__in=sources)
    return MediaItem.objects.filter(media, updated_at__gt=since).exists()


def playout_prune(*, channel: Channel, now: datetime | None = None) -> int:
    """Delete rows that ended more than PLAYOUT_KEEP_DAYS ago, except each playlist's
    last aired row: it is where that playlist resumes (see _cursors)."""
    cutoff = (now or timezone.now()) - timedelta(days=conf.PLAYOUT_KEEP_DAYS)
    keep = Q(pk__in=[])
    for playlist_id, last in (
        PlayoutRow.objects.filter(channel=channel, playlist__isnull=False, seq__isnull=False)
        .values("playlist_id")
        .annotate(last=Max("seq"))
        .values_list("playlist_id", "last")
    ):
        keep |= Q(playlist_id=playlist_id, seq=last)
    deleted, _ = PlayoutRow.objects.filter(channel=channel, end__lt=cutoff).exclude(keep).delete()
    return deleted


def playout_refresh(*, channel: Channel, now: datetime | None = None) -> int:
    """The periodic step: prune the old rows; rebuild from now if an input changed, else
    extend to the horizon."""
    now = now or timezone.now()
    playout_prune(channel=channel, now=now)
    compiled = channel.playout_compiled_at
    if compiled is None or playout_inputs_changed_since(channel, compiled):
        return playout_rebuild(channel=channel, now=now)
    return playout_extend(channel=channel, now=now)


def playout_request_rebuild(channel_ids: list[int] | set[int]) -> None:
    """After this transaction commits, have a worker rebuild these channels from now."""
    ids = sorted(set(channel_ids))
    if not ids:
        return

    def dispatch() -> None:
        from workers.channels import rebuild_channel_playout

        for channel_id in ids:
            rebuild_channel_playout.delay(channel_id)

    transaction.on_commit(dispatch)


def channels_using_playlist(playlist: Playlist) -> set[int]:
    """Channels whose playout reads `playlist`, directly or through other playlists."""
    playlists = {playlist.pk}
    frontier = {playlist.pk}
    for _ in range(conf.MAX_PLAYLIST_DEPTH):
        parents = set(
            PlaylistItem.objects.filter(child_id__in=frontier).values_list("playlist_id", flat=True)
        )
        frontier = parents - playlists
        if not frontier:
            break
        playlists |= frontier
    return set(
        Channel.objects.filter(
            Q(blocks__playlist_id__in=playlists) | Q(filler_playlist_id__in=playlists)
        ).values_list("pk", flat=True)
    )
