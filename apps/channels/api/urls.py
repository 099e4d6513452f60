"""API routes of this app, mounted under /api/v1/ by castcore.urls."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from apps.channels.api import views

router = SimpleRouter(trailing_slash=False)
router.register("playlists", views.PlaylistViewSet, basename="playlist")
router.register("channels", views.ChannelViewSet, basename="channel")
router.register("schedule-blocks", views.ScheduleBlockViewSet, basename="schedule-block")

urlpatterns = [
    *router.urls,
    # The scheduler and replays keep their routes in their own packages.
    path("", include("apps.channels.scheduling.api.urls")),
    path("", include("apps.channels.replays.api.urls")),
]
