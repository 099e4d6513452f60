"""Replays in the admin: shown; published and changed through /api/v1/replay (its service
also opens the recording to the replay's viewers)."""

from __future__ import annotations

from django.contrib import admin

from apps.channels.replays.models import Replay
from castcore.admin_site import ReadOnlyModelAdmin


@admin.register(Replay)
class ReplayAdmin(ReadOnlyModelAdmin):
    list_display = ["title", "recording", "visibility", "published_at", "owner"]
    list_filter = ["visibility"]
    search_fields = ["title", "description"]
