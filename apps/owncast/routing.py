"""WebSocket routes of the Owncast surface, mounted by castcore.routing.

`/ws` at the host root (the default stream) and `/owncast/<slug>/ws` (each stream).
"""

from django.urls import re_path

from apps.owncast.consumers import OwncastChatConsumer

websocket_urlpatterns = [
    re_path(r"^ws$", OwncastChatConsumer.as_asgi()),
    re_path(r"^owncast/(?P<slug>[-a-zA-Z0-9_]{1,80})/ws$", OwncastChatConsumer.as_asgi()),
]
