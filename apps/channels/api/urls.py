"""API routes of this app, mounted under /api/v1/ by castcore.urls."""

from typing import Any

from django.urls import include, path

urlpatterns: list[Any] = [
    path("", include("apps.channels.scheduling.api.urls")),
    path("", include("apps.channels.replays.api.urls")),
]
