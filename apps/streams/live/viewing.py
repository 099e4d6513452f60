"""Who may watch a live stream by its link: the selectors' rules, plus signed watch links.

Visibility is apps.streams.live.selectors' (one place, shared with the API and chat):
public for anyone, unlisted for whoever has the link, private for its owner and
Admins. This module adds what only links carry: a signed, expiring watch ticket
(`?t=`) that opens a private stream to whoever holds it, made by those who manage
the stream and checked by the page, its status poll, playlists and segments.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
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


class _Recent:
    """Answers of the last second, in this process: a player asks for its playlist and
    segments every second or two, and the same anonymous answer for every viewer of a
    stream spares the database two queries per request (bench/hls_viewers.py). A change
    of visibility or a session's start or end shows within TTL."""

    TTL = 1.0
    LIMIT = 10_000

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.answers: dict[Any, tuple[float, Any]] = {}

    def get(self, key: Any, make: Callable[[], Any]) -> Any:
        now = time.monotonic()
        with self.lock:
            found = self.answers.get(key)
        if found is not None and found[0] > now:
            return found[1]
        value = make()
        with self.lock:
            if len(self.answers) >= self.LIMIT:
                self.answers.clear()
            self.answers[key] = (now + self.TTL, value)
        return value

    def clear(self) -> None:
        with self.lock:
            self.answers.clear()


_recent = _Recent()


def watchable_stream_for(user: Any, slug: str, ticket: str | None) -> LiveStream | None:
    """watchable_stream, from the last second's answer when nobody is signed in."""
    if user is not None:
        return watchable_stream(user, slug, ticket)
    return _recent.get(("watch", slug, ticket), lambda: watchable_stream(None, slug, ticket))


def open_session_id(stream: LiveStream) -> int | None:
    """The open session's id (the last second's answer): what served playlists carry."""

    def read() -> int | None:
        session = selectors.current_session(stream)
        return session.pk if session is not None else None

    return _recent.get(("session", stream.pk), read)


def may_share(user: Any, stream: LiveStream) -> bool:
    """Who may hand out watch links to a private stream: those who manage it."""
    return selectors.may_manage_live_stream(user, stream)
