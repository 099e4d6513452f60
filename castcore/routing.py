"""WebSocket routes of every app, mounted by castcore.asgi."""

from __future__ import annotations

from typing import Any

from django.urls import re_path

from apps.chat.routing import websocket_urlpatterns as chat_ws
from apps.media.routing import websocket_urlpatterns as media_ws
from apps.owncast.routing import websocket_urlpatterns as owncast_ws
from apps.recordings.routing import websocket_urlpatterns as recordings_ws
from apps.streams.routing import websocket_urlpatterns as streams_ws
from apps.system.routing import websocket_urlpatterns as system_ws
from castcore.ws_auth import Refusal

websocket_urlpatterns: list[Any] = [
    *system_ws,
    *streams_ws,
    *media_ws,
    *recordings_ws,
    *chat_ws,
    *owncast_ws,
    # Last: any other path is accepted and closed with 4404, not failed with an HTTP
    # error before the handshake (Channels' router raises for a path it has no route for).
    re_path(r"", Refusal.as_asgi()),
]
