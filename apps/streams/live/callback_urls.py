"""nginx-rtmp's callbacks, mounted outside /api/ by castcore.urls (nginx's, not clients')."""

from django.urls import path

from apps.streams.live import callbacks

urlpatterns = [
    path("internal/nginx-rtmp/on_publish", callbacks.on_publish, name="nginx-rtmp-on-publish"),
    path(
        "internal/nginx-rtmp/on_publish_done",
        callbacks.on_publish_done,
        name="nginx-rtmp-on-publish-done",
    ),
]
