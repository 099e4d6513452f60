"""API routes of this app, mounted under /api/v1/ by castcore.urls."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from apps.media.api import views

router = SimpleRouter(trailing_slash=False)
router.register("storage-sources", views.StorageSourceViewSet, basename="storage-source")
router.register("media-scans", views.MediaScanViewSet, basename="media-scan")
router.register("media", views.MediaItemViewSet, basename="media-item")
router.register("assets", views.AssetViewSet, basename="asset")

urlpatterns = [
    path("mounts/<int:source_id>/mount", views.MountView.as_view(), name="mount"),
    path("mounts/<int:source_id>/unmount", views.UnmountView.as_view(), name="unmount"),
    path("mounts/<int:source_id>/status", views.MountStatusView.as_view(), name="mount-status"),
    *router.urls,
]
