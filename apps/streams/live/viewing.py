"""Who may watch a live stream by its link: the selectors' rules, plus signed watch links.

Visibility is apps.streams.live.selectors' (one place, shared with the API and chat):
public for anyone, unlisted for whoever has the link, private for its owner and
Admins. This module adds what only links carry: a signed, expiring watch ticket
(`?t=`) that opens a private stream to whoever holds it, made by those who manage
the stream and checked by the page, its status poll, playlists and segments.
"""

from __future__ import annotations

import time
from typing import Any

from apps.streams.live import selectors
from apps.streams.live.models import LiveStream, LiveVisibility
from castcore.tickets import check_ticket, make_ticket

WATCH_TICKET_SALT = "castcore.live.watch-link"
# A watch link made on the page lasts a day; none, whatever it says, more than 30 days.
WATCH_LINK_SECONDS = 24 * 3600
WATCH_LINK_MAX_SECONDS = 30 * 24 * 3600
# The query parameter that carries a watch link's ticket (page, playlists, segments).
TICKET_PARAM = "t"


def watch_ticket(stream: LiveStream, *, seconds: int = WATCH_LINK_SECONDS) -> str:
    """The `?t=` of a link that opens a private stream to whoever holds it, for `seconds`."""
    seconds = min(seconds, WATCH_LINK_MAX_SECONDS)
    return make_ticket(salt=WATCH_TICKET_SALT, subject=stream.pk, expires_at=time.time() + seconds)


def ticket_opens(stream: LiveStream, raw: str | None) -> bool:
    return bool(raw) and check_ticket(
        raw or "", salt=WATCH_TICKET_SALT, subject=stream.pk, max_age=WATCH_LINK_MAX_SECONDS
    )


def watchable_stream(user: Any, slug: str, ticket: str | None) -> LiveStream | None:
    """The stream at /live/<slug> if `user`, or the holder of `ticket`, may watch it."""
    stream = selectors.live_stream_by_slug(user, slug)
    if stream is None and ticket:
        private = LiveStream.objects.filter(slug=slug, visibility=LiveVisibility.PRIVATE).first()
        if private is not None and ticket_opens(private, ticket):
            stream = private
    return stream


def may_share(user: Any, stream: LiveStream) -> bool:
    """Who may hand out watch links to a private stream: those who manage it."""
    return selectors.may_manage_live_stream(user, stream)
