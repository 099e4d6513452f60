"""WebSocket routes of this app, mounted by castcore.routing."""

from django.urls import path, re_path

from apps.streams.consumers import StreamLogsConsumer, StreamStatusConsumer

websocket_urlpatterns = [
    # Digits of any length, bounded by the consumer (castcore.ws.route_id).
    re_path(r"^api/v1/ws/logs/(?P<job_id>[0-9]+)$", StreamLogsConsumer.as_asgi()),
    path("api/v1/ws/status", StreamStatusConsumer.as_asgi()),
]
