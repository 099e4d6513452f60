"""API routes of this app, mounted under /api/v1/ by castcore.urls."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from apps.integrations.api import views

router = SimpleRouter(trailing_slash=False)
router.register("webhooks", views.WebhookViewSet, basename="webhook")
router.register("webhook-deliveries", views.WebhookDeliveryViewSet, basename="webhook-delivery")
router.register("notifications", views.NotificationTargetViewSet, basename="notification")
router.register("access-tokens", views.IntegrationTokenViewSet, basename="access-token")

urlpatterns = [path("", include("apps.integrations.platforms.api.urls")), *router.urls]
