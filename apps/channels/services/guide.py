"""Warming the guide: each channel's programmes rendered into the cache off the request path.

A guide read renders what the cache lacks (apps.channels.feeds.guide_chunks): after a
compile writes a channel's rows, and at every new hour (the window moves), that was the
whole guide, paid by the first reader. The worker renders it instead, after each compile
(guide_warm_on_commit) and shortly before each hour (the periodic warm_guides task).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from apps.channels import conf
from apps.channels.feeds import guide_channels, guide_fragments_warm, guide_window
from apps.channels.models import Channel


def guide_windows_to_warm(now: datetime) -> list[datetime]:
    """The hours whose windows should be warm at `now`: this one, and the next when it
    is GUIDE_WARM_AHEAD_MINUTES away or less."""
    hour = now.replace(minute=0, second=0, microsecond=0)
    following = hour + timedelta(hours=1)
    if following - now <= timedelta(minutes=conf.GUIDE_WARM_AHEAD_MINUTES):
        return [hour, following]
    return [hour]


def guide_warm(*, channel_ids: Iterable[int] | None = None, now: datetime | None = None) -> int:
    """Render into the cache the programmes the guide of `channel_ids` (default every
    channel) lacks for the windows to warm at `now`; returns how many were rendered.

    Only what is missing is rendered, in one query a window, so a periodic call on a warm
    cache costs the spans query and a key lookup a channel.
    """
    now = now or timezone.now()
    channels = Channel.objects.order_by("pk")
    if channel_ids is not None:
        channels = channels.filter(pk__in=list(channel_ids))
    # No request: icons are not part of the programmes (only of the guide's head).
    listed = guide_channels(None, channels)
    if not listed:
        return 0
    rendered = 0
    for hour in guide_windows_to_warm(now):
        start, end = guide_window(hour)
        rendered += guide_fragments_warm(listed, start, end, now=now)
    return rendered


def guide_warm_on_commit(channel_ids: Iterable[int]) -> None:
    """After this transaction commits, have a worker warm these channels' guide.

    A worker, not the caller: a compile made by a request or a manage.py command must
    not make it wait for the rendering, and in the embedded mode the worker is a thread
    of the web process, whose cache (LocMem) is the one the guide is read from.
    """
    ids = sorted(set(channel_ids))
    if not ids:
        return

    def dispatch() -> None:
        from workers.channels import warm_channel_guides

        warm_channel_guides.delay(ids)

    transaction.on_commit(dispatch)
