"""/live/…: watch pages and HLS delivery (mounted by castcore.urls)."""

from django.urls import path

from apps.streams.live import views

app_name = "live"

urlpatterns = [
    path("<slug:slug>", views.watch_page, name="watch"),
    path("<slug:slug>/status.json", views.watch_status, name="status"),
    path("<slug:slug>/index.m3u8", views.master_playlist, name="master"),
    # Names are checked by apps.streams.live.delivery (a closed set), not by the pattern.
    path("<slug:slug>/<str:variant>/<str:name>", views.variant_file, name="variant-file"),
]
