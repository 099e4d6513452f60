"""Routes of this app outside /api/v1/ (viewer pages, IPTV feeds, tuner), mounted by castcore.urls.

/channels/{slug}/… below the page (index.m3u8 and segments) belongs to the playing engine.
"""

from django.urls import path

from apps.channels import views

app_name = "channels"

urlpatterns = [
    path("epg.xml", views.epg_xml, name="epg"),
    path("playlist.m3u", views.playlist_m3u, name="m3u"),
    path("discover.json", views.tuner_discover, name="tuner-discover"),
    path("device.xml", views.tuner_device_xml, name="tuner-device"),
    path("lineup.json", views.tuner_lineup, name="tuner-lineup"),
    path("lineup_status.json", views.tuner_lineup_status, name="tuner-lineup-status"),
    path("channels", views.channel_list, name="list"),
    path("channels/<slug:slug>", views.channel_page, name="channel"),
    # Before the playing engine's channels/<slug>/<name> (segments), which it would shadow.
    path("channels/<slug:slug>/epg.xml", views.channel_epg_xml, name="channel-epg"),
    path("guide", views.guide_page, name="guide"),
]
