"""Routes of the scheduler, included by apps.channels.api.urls."""

from rest_framework.routers import SimpleRouter

from apps.channels.scheduling.api import views

router = SimpleRouter(trailing_slash=False)
router.register("scheduler", views.ScheduledActionViewSet, basename="scheduled-action")

urlpatterns = router.urls
