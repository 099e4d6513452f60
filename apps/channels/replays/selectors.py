"""Reads of replays and who may see them."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from apps.channels.replays.models import Replay
from apps.recordings.models import Visibility
from apps.recordings.selectors import is_staff_viewer


def replays_for(user: Any) -> QuerySet[Replay]:
    """What the API lists: every replay for Operators and Admins; else own and public
    published ones."""
    replays = Replay.objects.select_related("recording")
    if is_staff_viewer(user):
        return replays
    public = Replay.objects.published().filter(visibility=Visibility.PUBLIC)
    return replays.filter(Q(owner_id=user.pk) | Q(pk__in=public.values("pk")))


def home_replays(limit: int = 12) -> list[Replay]:
    """The public, published replays for the home page, newest first."""
    return list(
        Replay.objects.published()
        .filter(visibility=Visibility.PUBLIC)
        .select_related("recording")
        .order_by("-published_at", "-id")[:limit]
    )
