"""WebSocket routes of every app, mounted by castcore.asgi."""

from __future__ import annotations

from typing import Any

from apps.media.routing import websocket_urlpatterns as media_ws
from apps.recordings.routing import websocket_urlpatterns as recordings_ws
from apps.streams.routing import websocket_urlpatterns as streams_ws
from apps.system.routing import websocket_urlpatterns as system_ws

websocket_urlpatterns: list[Any] = [*system_ws, *streams_ws, *media_ws, *recordings_ws]
