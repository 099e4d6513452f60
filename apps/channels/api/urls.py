"""API routes of this app, mounted under /api/v1/ by castcore.urls."""

from rest_framework.routers import SimpleRouter

from apps.channels.api import views

router = SimpleRouter(trailing_slash=False)
router.register("playlists", views.PlaylistViewSet, basename="playlist")
router.register("channels", views.ChannelViewSet, basename="channel")
router.register("schedule-blocks", views.ScheduleBlockViewSet, basename="schedule-block")

urlpatterns = [*router.urls]
