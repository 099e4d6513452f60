"""WebSocket routes of this app, mounted by castcore.routing."""

from typing import Any

from django.urls import re_path

from apps.media.consumers import ScanConsumer, SourceScansConsumer

websocket_urlpatterns: list[Any] = [
    # Digits of any length, parsed by the consumer: `<int:…>` turns a 5000-digit id into
    # "no route" (int() refuses it), which the server answers with a bare 403, not 4404.
    re_path(r"^api/v1/ws/scans/(?P<scan_id>[0-9]+)$", ScanConsumer.as_asgi()),
    re_path(
        r"^api/v1/ws/storage-sources/(?P<source_id>[0-9]+)/scans$", SourceScansConsumer.as_asgi()
    ),
]
