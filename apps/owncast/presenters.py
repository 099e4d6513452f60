"""CastCore rows in Owncast's JSON shapes (and their serializers, for the schema)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Count, Max, Q
from django.utils.dateparse import parse_datetime
from rest_framework import serializers

from apps.chat import selectors as chat_selectors
from apps.chat.events import user_info
from apps.chat.models import ChatIdentity, ChatMessage
from apps.owncast import chat_events
from apps.owncast.chat_writes import chat_writes_settled
from apps.owncast.models import ClientUserAgent
from apps.owncast.selectors import owncast_settings
from apps.streams.live import viewers
from apps.streams.live.selectors import current_session, social_links
from apps.streams.models import LiveSession, LiveStream
from castcore.markup import render_markdown

#: What /api/status and /api/config report as the server's version.
VERSION = "0.0.10"
VERSION_TEXT = f"Owncast v{VERSION}-castcore (CastCore's Owncast-compatible API)"


def owncast_time(value: datetime | str | None) -> str | None:
    """A time as Owncast writes it (RFC 3339, UTC as `Z`); a string is parsed first."""
    if isinstance(value, str):
        value = parse_datetime(value)
    if value is None:
        return None
    return value.isoformat().replace("+00:00", "Z")


def owncast_user(identity: ChatIdentity | None, *, name: str = "") -> dict[str, Any]:
    """Owncast's `user` object of a chat identity (never its address or token), as the
    chat socket sends it; for one gone since (deleted), what an event still says of it."""
    if identity is None:
        return {"id": "", "displayName": name, "displayColor": 0, "previousNames": []}
    user = chat_events.owncast_user(user_info(identity))
    assert user is not None
    return user


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


class OwncastStatusSerializer(serializers.Serializer):
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
        # Owncast renders its summary as Markdown here (and reports it raw to the admin).
        "summary": render_markdown(stream.summary),
        # Owncast always names /logo (under the base), which serves the image.
        "logo": "/logo",
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


class OwncastSocialHandleSerializer(serializers.Serializer):
    platform = serializers.CharField()
    url = serializers.CharField()


class OwncastConfigSerializer(serializers.Serializer):
    name = serializers.CharField()
    summary = serializers.CharField(help_text="HTML, the summary rendered as Markdown")
    logo = serializers.CharField(help_text="`/logo`, under the base")
    tags = serializers.ListField(child=serializers.CharField())
    version = serializers.CharField()
    nsfw = serializers.BooleanField()
    extraPageContent = serializers.CharField(help_text="HTML, cleaned with nh3 when stored")
    streamTitle = serializers.CharField()
    socialHandles = OwncastSocialHandleSerializer(many=True)
    chatDisabled = serializers.BooleanField()
    externalActions = serializers.ListField(child=serializers.DictField())
    customStyles = serializers.CharField()


def connected_clients(stream: LiveStream) -> list[dict[str, Any]]:
    """Owncast's Client objects for the sockets open on `stream`'s chat."""
    connections = list(
        chat_selectors.connected(stream).select_related("identity").order_by("connected_at")
    )
    identity_ids = {connection.identity_id for connection in connections}
    counts = dict(
        ChatMessage.objects.filter(stream=stream, author_id__in=identity_ids)
        .values("author_id")
        .annotate(n=Count("id", filter=Q(kind="chat")))
        .values_list("author_id", "n")
    )
    # The native chat socket keeps no User-Agent: its clients have "".
    agents = dict(
        ClientUserAgent.objects.filter(connection__in=connections).values_list(
            "connection_id", "user_agent"
        )
    )
    return [
        {
            "clientID": connection.pk,
            "connectedAt": owncast_time(connection.connected_at),
            "messageCount": counts.get(connection.identity_id, 0),
            "userAgent": agents.get(connection.pk, ""),
            "ipAddress": connection.address or "",
            "geo": None,
            "user": owncast_user(connection.identity),
        }
        for connection in connections
    ]


def chat_history(stream: LiveStream) -> list[dict[str, Any]]:
    """The recent visible messages, oldest first, as Owncast's GetChatHistory lists them
    (with the sends in flight on the stream's sockets, chat_writes)."""
    chat_writes_settled(stream.pk)
    return [
        chat_events.message_event(message)
        for message in chat_selectors.backlog(stream, moderator=False)
    ]
