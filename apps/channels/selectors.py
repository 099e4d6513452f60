"""Reads of channels and their playout: what plays when, what a user may see."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
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
