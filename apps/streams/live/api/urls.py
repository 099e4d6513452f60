"""API routes of live streams, mounted under /api/v1/ by castcore.urls."""

from rest_framework.routers import SimpleRouter

from apps.streams.live.api import views

router = SimpleRouter(trailing_slash=False)
router.register("live-streams", views.LiveStreamViewSet, basename="live-stream")

urlpatterns = router.urls
