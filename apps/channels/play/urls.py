"""A channel's HLS, below its page (`/channels/{slug}`), mounted by castcore.urls."""

from django.urls import path

from apps.channels.play import views

urlpatterns = [
    path("channels/<slug:slug>/index.m3u8", views.channel_playlist, name="channel-hls"),
    path("channels/<slug:slug>/<str:name>", views.channel_segment, name="channel-segment"),
]
