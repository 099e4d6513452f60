"""Routes of replays, included by apps.channels.api.urls."""

from rest_framework.routers import SimpleRouter

from apps.channels.replays.api import views

router = SimpleRouter(trailing_slash=False)
router.register("replay", views.ReplayViewSet, basename="replay")

urlpatterns = router.urls
