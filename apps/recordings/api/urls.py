"""API routes of this app, mounted under /api/v1/ by castcore.urls."""

from django.urls import path

from apps.recordings.api import stream_views, views

urlpatterns = [
    path("recordings", views.RecordingsView.as_view(), name="recordings"),
    path("recordings/<str:key>/file", views.RecordingFileView.as_view(), name="recording-file"),
    path("recordings/<str:key>", views.RecordingDetailView.as_view(), name="recording-detail"),
    path("streams", stream_views.StreamsView.as_view(), name="terminal-streams"),
    path(
        "streams/<str:key>", stream_views.StreamDetailView.as_view(), name="terminal-stream-detail"
    ),
    path("user/streams", stream_views.UserStreamsView.as_view(), name="user-terminal-streams"),
]
