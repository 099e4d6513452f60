"""Platform routes, mounted under /api/v1/ through apps.integrations.api.urls."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from apps.integrations.platforms.api import views

router = SimpleRouter(trailing_slash=False)
router.register("platforms", views.PlatformAccountViewSet, basename="platform")
router.register(
    "platform-accounts", views.PlatformAccountActionViewSet, basename="platform-account"
)

urlpatterns = [
    path("platforms/<str:platform>/oauth/start", views.OAuthStartView.as_view()),
    path("platforms/<str:platform>/oauth/begin", views.OAuthBeginView.as_view()),
    path("platforms/<str:platform>/oauth/callback", views.OAuthCallbackView.as_view()),
    path("stream-jobs/<int:pk>/metadata/<str:platform>", views.JobMetadataView.as_view()),
    path("metadata/resolve", views.MetadataResolveView.as_view()),
    *router.urls,
]
