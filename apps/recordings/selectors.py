"""Reads of the recordings app, and the visibility rules they apply."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from apps.accounts.roles import Role, role_at_least
from apps.recordings.models import Recording, TerminalStream, Visibility
from castcore.api.filters import parse_id


def _by_key(queryset: QuerySet[Any], key: str, *, public_ids_only: bool) -> Any:
    """The row a URL key names: a numeric id or a URL token.

    Web pages answer a numeric id only for public rows, so an unlisted
    recording cannot be found by counting; the asciinema API (whose caller
    must own the row anyway) takes either.
    """
    pk = parse_id(key)
    if pk is not None:
        lookup = Q(pk=pk)
        if public_ids_only:
            lookup &= Q(visibility=Visibility.PUBLIC)
        return queryset.filter(lookup | Q(url_token=key)).first()
    return queryset.filter(url_token=key).first()


def recording_by_key(key: str, *, public_ids_only: bool) -> Recording | None:
    return _by_key(Recording.objects.select_related("owner"), key, public_ids_only=public_ids_only)


def stream_by_key(key: str, *, public_ids_only: bool) -> TerminalStream | None:
    return _by_key(
        TerminalStream.objects.select_related("owner"), key, public_ids_only=public_ids_only
    )


def is_staff_viewer(user: Any) -> bool:
    """Operators and Admins run the deployment: they see every recording."""
    return bool(user and user.is_authenticated and role_at_least(user, Role.OPERATOR))


def may_view(row: Recording | TerminalStream, user: Any) -> bool:
    """Page rule, once the URL key matched: private rows are for their owner (and staff)."""
    if row.visibility != Visibility.PRIVATE:
        return True
    return bool(
        user and user.is_authenticated and (row.owner_id == user.pk or is_staff_viewer(user))
    )


def recordings_for(user: Any) -> QuerySet[Recording]:
    """What the native API lists for a user: everything for staff, else own and public."""
    queryset = Recording.objects.select_related("owner")
    if is_staff_viewer(user):
        return queryset
    return queryset.filter(
        Q(owner_id=user.pk) | Q(visibility=Visibility.PUBLIC, hidden_at__isnull=True)
    )


def recording_for_api(user: Any, key: str) -> Recording | None:
    """The native API's `{key}`: an id among recordings_for(user), or a URL token.

    A URL token is the capability of the recording's web URL, for every kind: it
    opens what the page opens to this user (may_view), and nothing more.
    """
    pk = parse_id(key)
    if pk is not None:
        return recordings_for(user).filter(pk=pk).first()
    recording = Recording.objects.select_related("owner").filter(url_token=key).first()
    if recording is None or not may_view(recording, user):
        return None
    return recording


def videos_without_playable_copy(*, retry_failed: bool = False) -> QuerySet[Recording]:
    """Video recordings with a file and no browser-playable copy (yet)."""
    queryset = Recording.objects.filter(kind=Recording.Kind.VIDEO, playable_file="").exclude(
        file=""
    )
    return queryset if retry_failed else queryset.filter(playable_error="")


def explore_recordings() -> QuerySet[Recording]:
    return Recording.objects.filter(
        visibility=Visibility.PUBLIC, hidden_at__isnull=True, status=Recording.Status.AVAILABLE
    ).exclude(file="")


def explore_streams() -> QuerySet[TerminalStream]:
    return TerminalStream.objects.live_now().filter(visibility=Visibility.PUBLIC)
