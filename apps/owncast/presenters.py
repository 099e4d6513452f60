"""CastCore rows in Owncast's JSON shapes (and their serializers, for the schema)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Max
from rest_framework import serializers

from apps.media.selectors import asset_url
from apps.owncast.selectors import owncast_settings
from apps.streams.live import viewers
from apps.streams.live.selectors import current_session, social_links
from apps.streams.models import LiveSession, LiveStream

#: What /api/status and /api/config report as the server's version.
VERSION = "0.0.10"
VERSION_TEXT = f"Owncast v{VERSION}-castcore (CastCore's Owncast-compatible API)"


def owncast_time(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def status(stream: LiveStream) -> dict[str, Any]:
    """Owncast's models.Status: online while a publisher is connected."""
    session = current_session(stream)
    online = session is not None and session.disconnected_at is None
    sessions = LiveSession.objects.filter(stream=stream)
    overall = sessions.aggregate(peak=Max("peak_viewers"))["peak"] or 0
    last_ended = (
        sessions.filter(ended_at__isnull=False)
        .order_by("-ended_at")
        .values_list("ended_at", flat=True)
    ).first()
    count = viewers.viewer_count(stream.pk) if online else 0
    session_peak = max(session.peak_viewers, count) if session is not None else 0
    return {
        "online": online,
        "viewerCount": count,
        "overallMaxViewerCount": max(overall, session_peak),
        "sessionMaxViewerCount": session_peak,
        "lastConnectTime": owncast_time(session.started_at) if session is not None else None,
        "lastDisconnectTime": owncast_time(
            session.disconnected_at
            if session is not None and session.disconnected_at
            else last_ended
        ),
        "versionNumber": VERSION,
        "streamTitle": stream.title,
    }


class StatusSerializer(serializers.Serializer):
    online = serializers.BooleanField()
    viewerCount = serializers.IntegerField()
    overallMaxViewerCount = serializers.IntegerField()
    sessionMaxViewerCount = serializers.IntegerField()
    lastConnectTime = serializers.DateTimeField(allow_null=True)
    lastDisconnectTime = serializers.DateTimeField(allow_null=True)
    versionNumber = serializers.CharField()
    streamTitle = serializers.CharField()


def web_config(stream: LiveStream) -> dict[str, Any]:
    """Owncast's webConfigResponse, from the stream and its Owncast-only settings."""
    extra = owncast_settings(stream)
    return {
        "name": stream.name,
        "summary": stream.summary,
        "logo": asset_url(stream.logo) if stream.logo is not None else "",
        "tags": list(stream.tags or []),
        "version": VERSION_TEXT,
        "nsfw": stream.nsfw,
        "extraPageContent": stream.page_content,
        "streamTitle": stream.title,
        "socialHandles": social_links(stream),
        "chatDisabled": extra.chat_disabled,
        "externalActions": list(extra.external_actions or []),
        "customStyles": extra.custom_styles,
    }


class _SocialHandle(serializers.Serializer):
    platform = serializers.CharField()
    url = serializers.CharField()


class ConfigSerializer(serializers.Serializer):
    name = serializers.CharField()
    summary = serializers.CharField()
    logo = serializers.CharField()
    tags = serializers.ListField(child=serializers.CharField())
    version = serializers.CharField()
    nsfw = serializers.BooleanField()
    extraPageContent = serializers.CharField(help_text="HTML, cleaned with nh3 when stored")
    streamTitle = serializers.CharField()
    socialHandles = _SocialHandle(many=True)
    chatDisabled = serializers.BooleanField()
    externalActions = serializers.ListField(child=serializers.DictField())
    customStyles = serializers.CharField()
