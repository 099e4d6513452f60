"""Channel players in the admin: which jobs play and restream each channel, and whether it
is wanted."""

from __future__ import annotations

from django.contrib import admin

from apps.channels.play.models import ChannelPlayer
from castcore.admin_site import ReadOnlyModelAdmin


@admin.register(ChannelPlayer)
class ChannelPlayerAdmin(ReadOnlyModelAdmin):
    list_display = ["channel", "job", "relay_job", "wanted", "held", "last_viewer_at", "window_end"]
    list_filter = ["wanted", "held"]
    list_select_related = ["channel", "job", "relay_job"]
