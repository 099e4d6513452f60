"""A channel's HLS and MPEG-TS, below its page (`/channels/{slug}`), mounted by castcore.urls."""

from django.urls import path

from apps.channels.play import views

urlpatterns = [
    path("channels/<slug:slug>/index.m3u8", views.channel_playlist, name="channel-hls"),
    # Before the segments' route, which would take the name.
    path("channels/<slug:slug>/stream.ts", views.channel_stream_ts, name="channel-ts"),
    path("channels/<slug:slug>/<str:name>", views.channel_segment, name="channel-segment"),
]
