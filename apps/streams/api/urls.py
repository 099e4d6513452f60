"""API routes of this app, mounted under /api/v1/ by castcore.urls."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from apps.streams.api import views

router = SimpleRouter(trailing_slash=False)
router.register("ffmpeg-profiles", views.FFmpegProfileViewSet, basename="ffmpeg-profile")
router.register("stream-jobs", views.StreamJobViewSet, basename="stream-job")
router.register("stream-reports", views.StreamReportViewSet, basename="stream-report")

urlpatterns = [
    path("ffmpeg/preview", views.PreviewView.as_view(), name="ffmpeg-preview"),
    *router.urls,
]
