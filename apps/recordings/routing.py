"""WebSocket routes of this app, mounted by castcore.routing."""

from typing import Any

from django.urls import re_path

from apps.recordings import consumers

websocket_urlpatterns: list[Any] = [
    # asciinema's producer path: the token in it is the credential.
    re_path(r"^ws/S/(?P<token>[A-Za-z0-9_-]{8,64})$", consumers.ProducerConsumer.as_asgi()),
    re_path(r"^ws/s/(?P<key>[A-Za-z0-9_-]{1,32})$", consumers.ViewerConsumer.as_asgi()),
]
