"""Who may watch a live stream, and which streams a viewer sees: the rules pages and HLS share.

- public: anyone, listed on the home page;
- unlisted: anyone with the link, listed only to its operators;
- private: its operators (owner, or an Operator/Admin; by session or bearer
  credential), or whoever holds a signed, expiring watch link (`?t=`).
"""

from __future__ import annotations

import time
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet

from apps.accounts.roles import Role, role_at_least
from apps.streams.live.models import LiveSession, LiveStream, LiveVisibility
from castcore.tickets import check_ticket, make_ticket

WATCH_TICKET_SALT = "castcore.live.watch-link"
# A watch link made on the page lasts a day; none, whatever it says, more than 30 days.
WATCH_LINK_SECONDS = 24 * 3600
WATCH_LINK_MAX_SECONDS = 30 * 24 * 3600
# The query parameter that carries a watch link's ticket (page, playlists, segments).
TICKET_PARAM = "t"


def is_stream_operator(stream: LiveStream, user: Any) -> bool:
    """The stream's owner, or anyone who operates the deployment (Operator, Admin)."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return stream.owner_id == user.pk or role_at_least(user, Role.OPERATOR)


def watch_ticket(stream: LiveStream, *, seconds: int = WATCH_LINK_SECONDS) -> str:
    """The `?t=` of a link that opens a private stream to whoever holds it, for `seconds`."""
    seconds = min(seconds, WATCH_LINK_MAX_SECONDS)
    return make_ticket(salt=WATCH_TICKET_SALT, subject=stream.pk, expires_at=time.time() + seconds)


def ticket_opens(stream: LiveStream, raw: str | None) -> bool:
    return bool(raw) and check_ticket(
        raw or "", salt=WATCH_TICKET_SALT, subject=stream.pk, max_age=WATCH_LINK_MAX_SECONDS
    )


def may_watch(stream: LiveStream, user: Any, ticket: str | None) -> bool:
    """Once the slug matched: may this user (or this link's holder) watch it?"""
    if stream.visibility != LiveVisibility.PRIVATE:
        return True
    return is_stream_operator(stream, user) or ticket_opens(stream, ticket)


def _has_open_session() -> Exists:
    return Exists(LiveSession.objects.filter(stream=OuterRef("pk"), ended_at__isnull=True))


def _with_live_flag(queryset: QuerySet[LiveStream]) -> QuerySet[LiveStream]:
    return queryset.annotate(is_live=_has_open_session())


def stream_by_slug(slug: str) -> LiveStream | None:
    """The stream a `/live/{slug}` URL names, with `is_live` (an open publish session)."""
    return _with_live_flag(LiveStream.objects.select_related("owner")).filter(slug=slug).first()


def open_session(stream: LiveStream) -> LiveSession | None:
    return LiveSession.objects.filter(stream=stream, ended_at__isnull=True).first()


def live_streams_for(user: Any) -> QuerySet[LiveStream]:
    """What the home page lists as live: public streams, plus for a signed-in user the
    unlisted and private ones they operate (all of them for Operators and Admins)."""
    queryset = _with_live_flag(LiveStream.objects.select_related("owner")).filter(
        _has_open_session()
    )
    if role_at_least(user, Role.OPERATOR):
        return queryset
    visible = Q(visibility=LiveVisibility.PUBLIC)
    if user is not None and getattr(user, "is_authenticated", False):
        visible |= Q(owner_id=user.pk)
    return queryset.filter(visible)
