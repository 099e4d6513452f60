"""Reads of live streams: who may see which, and whether one is live now.

The viewer pages, the HLS views, chat and the API all ask here, so that they agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet

from apps.accounts.roles import Role, role_at_least
from apps.streams.live.delivery import PLAYLIST
from apps.streams.live.models import LiveSession, LiveStream, LiveVisibility
from apps.streams.live.paths import hls_dir


class LiveState:
    """What `live_stream_state` reports: a string, not a model field (never stored)."""

    OFFLINE = "offline"
    LIVE = "live"
    CHOICES = (OFFLINE, LIVE)


@dataclass(frozen=True)
class StreamState:
    """A live stream's state now.

    `live`: a session is open (a publisher is connected, or dropped less than the
    grace period ago and may continue it: `reconnecting`). `session`: that session.
    """

    state: str
    session: LiveSession | None

    @property
    def live(self) -> bool:
        return self.state == LiveState.LIVE

    @property
    def reconnecting(self) -> bool:
        return self.session is not None and self.session.disconnected_at is not None


def current_session(stream: LiveStream) -> LiveSession | None:
    """The open session of `stream` (at most one: a unique constraint), or None.

    Uses `open_sessions` when the stream was loaded by `with_open_session` (no query).
    """
    prefetched = getattr(stream, "open_sessions", None)
    if prefetched is not None:
        return prefetched[0] if prefetched else None
    return LiveSession.objects.filter(stream=stream, ended_at__isnull=True).first()


def live_stream_state(stream: LiveStream) -> StreamState:
    session = current_session(stream)
    return StreamState(LiveState.LIVE if session else LiveState.OFFLINE, session)


def with_open_session(streams: QuerySet[LiveStream]) -> QuerySet[LiveStream]:
    """`streams` with `open_sessions` prefetched: lists read every state in one query."""
    return streams.prefetch_related(
        Prefetch(
            "sessions",
            queryset=LiveSession.objects.filter(ended_at__isnull=True),
            to_attr="open_sessions",
        )
    )


def in_state(streams: QuerySet[LiveStream], state: str) -> QuerySet[LiveStream]:
    """`streams` that are `state` now (LiveState): a session open, or none."""
    open_session = Exists(LiveSession.objects.filter(stream=OuterRef("pk"), ended_at__isnull=True))
    return (
        streams.filter(open_session) if state == LiveState.LIVE else streams.exclude(open_session)
    )


def visible_live_streams(
    user: Any, streams: QuerySet[LiveStream] | None = None
) -> QuerySet[LiveStream]:
    """The streams `user` may watch and read: Admins all; a signed-in user the public and
    unlisted ones and their own; anonymous visitors the public ones (an unlisted one by
    its link: `live_stream_by_slug`)."""
    streams = LiveStream.objects.all() if streams is None else streams
    if role_at_least(user, Role.ADMIN):
        return streams
    if role_at_least(user, Role.VIEWER):
        return streams.filter(~Q(visibility=LiveVisibility.PRIVATE) | Q(owner=user))
    return streams.filter(visibility=LiveVisibility.PUBLIC)


def listed_live_streams(user: Any) -> QuerySet[LiveStream]:
    """What the home page lists for `user`: visible, without others' unlisted streams."""
    streams = visible_live_streams(user)
    if role_at_least(user, Role.ADMIN):
        return streams
    if role_at_least(user, Role.VIEWER):
        return streams.filter(~Q(visibility=LiveVisibility.UNLISTED) | Q(owner=user))
    return streams


def playable_session(stream: LiveStream) -> LiveSession | None:
    """The open session, when a player can start: the master playlist is written.

    Before it is (the transcode starting) a page saying "Live" would show a player that
    fails; the watch page, its status poll and the home page all ask here so they agree.
    """
    session = current_session(stream)
    if session is None or not (hls_dir(stream) / PLAYLIST).is_file():
        return None
    return session


def live_streams_now(user: Any, limit: int | None = None) -> list[LiveStream]:
    """Listed streams a player can start now (`playable_session`): "live now" on the home
    page. A list: whether the playlist is written is a file's, not a column's."""
    streams = with_open_session(in_state(listed_live_streams(user), LiveState.LIVE))
    playable = [stream for stream in streams.select_related("owner") if playable_session(stream)]
    return playable if limit is None else playable[:limit]


def live_stream_by_slug(user: Any, slug: str) -> LiveStream | None:
    """The stream at /live/<slug> for `user`: visible, or unlisted (its link is the access).

    A private stream of someone else is None, as a missing one is (a 404 either way).
    Signed URL tokens for private streams are the viewer pages' to check.
    """
    streams = LiveStream.objects.filter(slug=slug)
    found = visible_live_streams(user, streams).first()
    if found is None:
        found = streams.filter(visibility=LiveVisibility.UNLISTED).first()
    return found


def live_streams_managed_by(
    user: Any, streams: QuerySet[LiveStream] | None = None
) -> QuerySet[LiveStream]:
    """The streams `user` may change, rotate, stop and delete: Admins all, Operators theirs."""
    streams = LiveStream.objects.all() if streams is None else streams
    if role_at_least(user, Role.ADMIN):
        return streams
    if role_at_least(user, Role.OPERATOR):
        return streams.filter(owner=user)
    return streams.none()


def may_manage_live_stream(user: Any, stream: LiveStream) -> bool:
    if role_at_least(user, Role.ADMIN):
        return True
    return role_at_least(user, Role.OPERATOR) and stream.owner_id == getattr(user, "pk", None)


def social_links(stream: LiveStream) -> list[dict[str, str]]:
    """The stream's links that are web addresses: a `javascript:` or `data:` URL stored
    before validation (or by a writer that skipped it) never becomes a link."""
    links = []
    for link in stream.social_links or []:
        if not isinstance(link, dict):
            continue
        url, platform = str(link.get("url") or ""), str(link.get("platform") or "")
        parts = urlsplit(url)
        if parts.scheme in ("http", "https") and parts.netloc:
            links.append({"platform": platform or parts.netloc, "url": url})
    return links
