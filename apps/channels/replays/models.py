"""Replays of finished recordings."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.recordings.models import Visibility


class ReplayQuerySet(models.QuerySet["Replay"]):
    def published(self) -> ReplayQuerySet:
        return self.filter(
            published_at__isnull=False,
            published_at__lte=timezone.now(),
            recording__hidden_at__isnull=True,
        )


class Replay(models.Model):
    """A finished video recording published as a replay (draft until published_at)."""

    recording = models.OneToOneField(
        "recordings.Recording", on_delete=models.CASCADE, related_name="replay"
    )
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    visibility = models.CharField(
        max_length=8, choices=Visibility.choices, default=Visibility.PUBLIC
    )
    # Null while a draft (a scheduled `replay.publish` action sets it when it runs).
    published_at = models.DateTimeField(null=True, blank=True, db_index=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Optionally re-aired once on a channel at a fixed time: the playout compiler places
    # it (services.playout), so it survives every rebuild. Both set, or neither.
    reair_channel = models.ForeignKey(
        "castcore_channels.Channel",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reairs",
    )
    reair_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ReplayQuerySet.as_manager()

    class Meta:
        ordering = ["-published_at", "-id"]

    def __str__(self) -> str:
        return self.title

    @property
    def is_published(self) -> bool:
        return self.published_at is not None and self.published_at <= timezone.now()

    @property
    def page_path(self) -> str:
        # The recording's page by its URL token: that works for every visibility the
        # replay may have (the token is the capability of an unlisted recording).
        return f"/r/{self.recording.url_token}"
