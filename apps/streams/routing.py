"""WebSocket routes of this app, mounted by castcore.routing."""

from django.urls import path

from apps.streams.consumers import StreamLogsConsumer, StreamStatusConsumer

websocket_urlpatterns = [
    path("api/v1/ws/logs/<int:job_id>", StreamLogsConsumer.as_asgi()),
    path("api/v1/ws/status", StreamStatusConsumer.as_asgi()),
]
