"""Owncast's chat moderation requests, handled once for the admin API (Basic key) and the
integrations API (a token with HAS_ADMIN_ACCESS): Owncast serves both paths with the same
handlers, and here both call the chat app's services through these functions."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response

from apps.chat.models import ChatIdentity
from apps.chat.services import messages_set_visibility
from apps.owncast import services
from apps.owncast.responses import simple_response
from apps.streams.models import LiveStream
from castcore.api.filters import parse_id

#: The most message ids one visibility request may name.
MAX_IDS = 500


def _data(request: Request) -> dict[str, Any]:
    return request.data if isinstance(request.data, dict) else {}


def message_ids(raw: object) -> list[int] | None:
    """Owncast's `idArray` (message ids as strings, or numbers) as ids, or None if invalid."""
    if not isinstance(raw, list) or len(raw) > MAX_IDS:
        return None
    ids = [parse_id(str(item)) if isinstance(item, str | int) else None for item in raw]
    return None if any(item is None for item in ids) else [item for item in ids if item]


def visibility_set(request: Request, stream: LiveStream) -> Response:
    """`{idArray, visible}`: hide or show the stream's messages (connected clients follow)."""
    data = _data(request)
    ids, visible = message_ids(data.get("idArray")), data.get("visible")
    if ids is None or not isinstance(visible, bool):
        return simple_response(False, "idArray (message ids) and visible (bool) are required")
    messages_set_visibility(
        stream=stream, message_ids=ids, visible=visible, actor=request.user, request=request
    )
    return simple_response(True, "changed")


def user_enabled_set(request: Request, stream: LiveStream) -> Response:
    """`{userId, enabled}`: disable a chat user on the stream, or enable them again
    (services.user_set_enabled); answered as Owncast's UpdateUserEnabled does."""
    data = _data(request)
    user_id, enabled = parse_id(str(data.get("userId", ""))), data.get("enabled")
    if user_id is None or not isinstance(enabled, bool):
        return simple_response(False, "userId and enabled (bool) are required")
    identity = ChatIdentity.objects.filter(pk=user_id).first()
    if identity is None:
        return simple_response(False, "no such user")
    services.user_set_enabled(
        stream=stream, identity=identity, enabled=enabled, actor=request.user, request=request
    )
    return simple_response(True, f"{identity.pk} enabled: {str(enabled).lower()}")
