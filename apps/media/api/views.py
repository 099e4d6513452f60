"""Storage sources, mounts, scans, media items and assets (/api/v1/)."""

from __future__ import annotations

from typing import Any, ClassVar

from django.http import HttpResponseBase
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.roles import Role
from apps.media import codes, conf, services
from apps.media.api import serializers as s
from apps.media.filters import AssetFilter, MediaItemFilter, MediaScanFilter
from apps.media.models import Asset, MediaItem, MediaScan, ScanState, StorageSource
from apps.media.uploads import FORM_OVERHEAD, SizeLimitUploadHandler
from castcore.api.errors import ApiError
from castcore.api.viewsets import CastCoreViewSet
from castcore.files import send_file


class StorageSourceViewSet(CastCoreViewSet):
    """Where media lives. Operators read (secrets masked) and scan; Admins configure."""

    queryset = StorageSource.objects.all()
    serializer_class = s.StorageSourceSerializer
    ordering_fields = ["name", "kind", "created_at", "last_scanned_at"]
    filterset_fields = ["kind", "enabled"]
    read_role = Role.OPERATOR
    write_role = Role.ADMIN
    action_roles = {"scan": Role.OPERATOR, "test": Role.ADMIN}
    # For the schema; an action declares its own (castcore.api.schema).
    error_statuses: ClassVar[dict[str, str]] = {}

    def perform_create(self, serializer: Any) -> None:
        serializer.instance = services.storage_source_create(
            actor=self.request.user, request=self.request, **serializer.validated_data
        )

    def perform_update(self, serializer: Any) -> None:
        serializer.instance = services.storage_source_update(
            source=serializer.instance, actor=self.request.user, request=self.request,
            **serializer.validated_data,
        )  # fmt: skip

    def perform_destroy(self, instance: Any) -> None:
        services.storage_source_delete(
            source=instance, actor=self.request.user, request=self.request
        )

    @extend_schema(request=None, responses={200: s.SourceTestSerializer})
    @action(detail=True, methods=["post"])
    def test(self, request: Request, pk: str | None = None) -> Response:
        """Reachable, credentials, listable, readable: each with a code and an explanation."""
        checks = services.storage_source_test(source=self.get_object())
        body = {
            "ok": all(c.ok for c in checks),
            "checks": s.CheckSerializer(checks, many=True).data,
        }
        return Response(body)

    @extend_schema(request=s.ScanRequestSerializer, responses={202: s.MediaScanSerializer})
    @action(
        detail=True,
        methods=["post"],
        error_statuses={"503": "The task queue is unreachable (`scan.queue_unavailable`)"},
    )
    def scan(self, request: Request, pk: str | None = None) -> Response:
        """Queue a scan on the `scans` queue and return at once (409 while one runs)."""
        data = s.ScanRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        scan = services.media_scan_start(
            source=self.get_object(),
            full=data.validated_data["full"],
            requested_by=request.user,
            request=request,
        )
        scan.refresh_from_db()
        if scan.state == ScanState.FAILED and scan.error_code == "scan.queue_unavailable":
            raise ApiError("scan.queue_unavailable", {"scan_id": scan.pk}, status_code=503)
        return Response(s.MediaScanSerializer(scan).data, status=status.HTTP_202_ACCEPTED)


class MediaScanViewSet(viewsets.ReadOnlyModelViewSet):
    """Scan status; live progress is on WS /api/v1/ws/scans/{id}."""

    queryset = MediaScan.objects.all()
    serializer_class = s.MediaScanSerializer
    filterset_class = MediaScanFilter
    ordering_fields = ["created_at", "finished_at"]


def _mount_body(source: StorageSource, status_: Any) -> dict[str, Any]:
    source.refresh_from_db(fields=["mount_wanted"])
    return {
        "source_id": source.pk,
        "mountable": status_ is not None,
        "mounted": bool(status_ and status_.mounted),
        "mount_point": status_.mount_point if status_ else None,
        "fstype": status_.fstype if status_ else None,
        "mount_wanted": source.mount_wanted,
    }


class _MountView(APIView):
    read_role = Role.OPERATOR
    write_role = Role.ADMIN

    def source(self, source_id: int) -> StorageSource:
        return get_object_or_404(StorageSource, pk=source_id)


class MountView(_MountView):
    """Mount an SMB/NFS source read-only; 422 `mount.fs_unsupported` etc. if this host cannot."""

    error_statuses = codes.ERROR_STATUSES

    @extend_schema(request=None, responses={200: s.MountStatusSerializer})
    def post(self, request: Request, source_id: int) -> Response:
        source = self.source(source_id)
        mounted = services.storage_source_mount(source=source, actor=request.user, request=request)
        return Response(_mount_body(source, mounted))


class UnmountView(_MountView):
    error_statuses = codes.ERROR_STATUSES

    @extend_schema(request=None, responses={200: s.MountStatusSerializer})
    def post(self, request: Request, source_id: int) -> Response:
        source = self.source(source_id)
        status_ = services.storage_source_unmount(
            source=source, actor=request.user, request=request
        )
        return Response(_mount_body(source, status_))


class MountStatusView(_MountView):
    @extend_schema(responses={200: s.MountStatusSerializer})
    def get(self, request: Request, source_id: int) -> Response:
        source = self.source(source_id)
        return Response(_mount_body(source, services.storage_source_mount_status(source=source)))


class MediaItemViewSet(viewsets.ReadOnlyModelViewSet):
    """The media library: files found by scans, with their probe results."""

    queryset = MediaItem.objects.select_related("source").all()
    filterset_class = MediaItemFilter
    ordering_fields = ["relpath", "duration", "size", "width", "height", "created_at", "probed_at"]
    action_roles = {"probe": Role.OPERATOR}
    # For the schema; an action declares its own (castcore.api.schema).
    error_statuses: ClassVar[dict[str, str]] = {}

    def get_serializer_class(self) -> Any:
        return s.MediaItemSerializer if self.action == "list" else s.MediaItemDetailSerializer

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        # A client asking for image/jpeg still gets JSON error envelopes.
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(request=None, responses={200: s.MediaItemDetailSerializer})
    @action(detail=True, methods=["post"], error_statuses=codes.ERROR_STATUSES)
    def probe(self, request: Request, pk: str | None = None) -> Response:
        """Probe the file again now; a failing probe is recorded on the item (200)."""
        item = services.media_item_probe(item=self.get_object())
        return Response(s.MediaItemDetailSerializer(item).data)

    @extend_schema(
        responses={
            (200, "image/jpeg"): OpenApiResponse(OpenApiTypes.BINARY, description="JPEG frame"),
            304: OpenApiResponse(description="Not modified (If-None-Match matched the ETag)"),
        }
    )
    @action(detail=True, methods=["get"], error_statuses=services.THUMBNAIL_ERROR_STATUSES)
    def thumbnail(self, request: Request, pk: str | None = None) -> HttpResponseBase:
        """A frame ~10% in, made once and cached; ETag/Last-Modified/Cache-Control set."""
        item = self.get_object()
        path = services.media_thumbnail(item=item)
        # Sent as the /media/ files are: by nginx when X-Accel-Redirect is configured.
        return send_file(
            request,
            path,
            content_type="image/jpeg",
            etag=f'"{item.pk}-{item.size}-{item.mtime_ns}-{conf.THUMBNAIL_WIDTH}"',
            cache_control=f"private, max-age={conf.THUMBNAIL_MAX_AGE}",
        )


class AssetViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Logos, overlays, thumbnails, slates and intro/outro clips, validated by content."""

    queryset = Asset.objects.all()
    serializer_class = s.AssetSerializer
    filterset_class = AssetFilter
    ordering_fields = ["created_at", "name", "size"]
    parser_classes = [MultiPartParser]
    # Read by the web server before the view runs (castcore/bodies.py).
    request_body_limit = max(conf.ASSET_MAX_IMAGE_BYTES, conf.ASSET_MAX_VIDEO_BYTES) + FORM_OVERHEAD

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Multipart upload (`kind`, `file`, optional `name`); 413 `asset.too_large`."""
        limit = max(conf.ASSET_MAX_IMAGE_BYTES, conf.ASSET_MAX_VIDEO_BYTES)
        django_request = request._request
        # Must be installed before request.data is first read.
        django_request.upload_handlers = [
            SizeLimitUploadHandler(limit, django_request),
            *django_request.upload_handlers,
        ]
        data = s.AssetSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        asset = services.asset_upload(
            chunks=upload.chunks(),
            declared_name=upload.name or "",
            kind=data.validated_data["kind"],
            name=data.validated_data.get("name", ""), actor=request.user, request=request,
        )  # fmt: skip
        return Response(s.AssetSerializer(asset).data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance: Asset) -> None:
        """409 `asset.in_use` while a stream job or channel uses the asset."""
        services.asset_delete(asset=instance, actor=self.request.user, request=self.request)
