"""Reads of channels and their playout: what plays when, what a user may see."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from apps.channels.models import Channel, ChannelVisibility, PlayoutRow


@dataclass(frozen=True)
class NowPlaying:
    """The row airing at `at`, and how far into its media file the picture is."""

    row: PlayoutRow
    at: datetime
    offset: float  # seconds into the media file (the row's in_point included)
    remaining: float  # seconds until the row ends


def playout_at(channel: Channel | int, at: datetime | None = None) -> NowPlaying | None:
    """What should be playing on `channel` at `at` (default now), at which offset.

    None when nothing is compiled for that instant (before the first row, past the
    horizon). Rows never overlap, so at most one row has start <= at < end.
    """
    at = at or timezone.now()
    channel_id = channel if isinstance(channel, int) else channel.pk
    row = (
        PlayoutRow.objects.filter(channel_id=channel_id, start__lte=at, end__gt=at)
        .select_related("media_item", "media_item__source", "asset")
        .order_by("-start")
        .first()
    )
    if row is None:
        return None
    return NowPlaying(
        row=row,
        at=at,
        offset=row.offset_at(at),
        remaining=(row.end - at).total_seconds(),
    )


def rows_between(channel: Channel | int, start: datetime, end: datetime) -> QuerySet[PlayoutRow]:
    """The rows overlapping [start, end), in airing order."""
    channel_id = channel if isinstance(channel, int) else channel.pk
    return PlayoutRow.objects.filter(channel_id=channel_id, start__lt=end, end__gt=start).order_by(
        "start"
    )


def channels_listed_for(user: Any) -> QuerySet[Channel]:
    """Channels a viewer page lists: public ones; signed-in users also see private ones."""
    channels = Channel.objects.filter(enabled=True)
    if getattr(user, "is_authenticated", False):
        return channels.exclude(visibility=ChannelVisibility.UNLISTED)
    return channels.filter(visibility=ChannelVisibility.PUBLIC)


def may_watch(channel: Channel, user: Any, token: str | None) -> bool:
    """Public: anyone; unlisted: the tokenised URL; private: signed-in users or the token."""
    if channel.visibility == ChannelVisibility.PUBLIC:
        return True
    if channel.token_ok(token):
        return True
    return channel.visibility == ChannelVisibility.PRIVATE and bool(
        getattr(user, "is_authenticated", False)
    )


@dataclass(frozen=True)
class Programme:
    """A guide entry: an item and the filler that pads it, folded together."""

    start: datetime
    end: datetime
    title: str
    filler: bool = False

    def covers(self, at: datetime) -> bool:
        return self.start <= at < self.end


def programmes(
    channels: list[Channel], start: datetime, end: datetime
) -> dict[int, list[Programme]]:
    """Each channel's programmes overlapping [start, end), filler folded in (as the guide does).

    One query for every channel, in (channel, start) order.
    """
    names = {c.pk: c.name for c in channels}
    found: dict[int, list[Programme]] = {c.pk: [] for c in channels}
    rows = (
        PlayoutRow.objects.filter(channel_id__in=list(names), start__lt=end, end__gt=start)
        .order_by("channel_id", "start")
        .values_list("channel_id", "start", "end", "filler", "title")
    )
    for channel_id, row_start, row_end, filler, title in rows:
        shown = found[channel_id]
        if filler and shown and shown[-1].end == row_start:
            last = shown[-1]
            shown[-1] = Programme(last.start, row_end, last.title, last.filler)
        else:
            shown.append(
                Programme(row_start, row_end, names[channel_id] if filler else title, filler)
            )
    return found


def now_and_next(
    channels: list[Channel], at: datetime | None = None
) -> dict[int, tuple[Programme | None, Programme | None]]:
    at = at or timezone.now()
    listed = programmes(channels, at, at + timedelta(hours=12))
    result: dict[int, tuple[Programme | None, Programme | None]] = {}
    for channel in channels:
        shown = listed[channel.pk]
        current = next((p for p in shown if p.covers(at)), None)
        upcoming = next((p for p in shown if p.start >= at), None)
        result[channel.pk] = (current, upcoming)
    return result
