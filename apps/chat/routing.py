"""WebSocket routes of this app, mounted by castcore.routing."""

from django.urls import re_path

from apps.chat.consumers import ChatConsumer

websocket_urlpatterns = [
    # A stream's id or slug (slugs are letters, digits, '-' and '_').
    re_path(r"^api/v1/ws/chat/(?P<stream>[-\w]{1,80})$", ChatConsumer.as_asgi()),
]
