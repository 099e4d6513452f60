"""/api/v1/recordings: the native API and asciinema's, on the same paths.

`Authorization: Bearer …` gets the native API (RBAC, envelope, pagination);
`Authorization: Basic …` (an asciinema CLI install ID) gets asciinema's
behaviour and error shape. Both call the same services.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response

from apps.recordings import conf, selectors, services
from apps.recordings.api import serializers as s
from apps.recordings.api.compat import (
    AsciinemaMixin,
    InstallIdAuthentication,
    absolute_url,
    compat_error,
    is_asciinema_request,
)
from apps.recordings.asciicast import AsciicastInvalid
from apps.recordings.files import serve_recording_file
from apps.recordings.filters import RecordingFilter
from apps.recordings.models import Recording
from castcore.api.authentication import ApiTokenAuthentication, JWTAuthentication

AUTHENTICATION = [ApiTokenAuthentication, JWTAuthentication, InstallIdAuthentication]
#: For the schema (castcore.api.schema): a recording an admin hid is gone to everyone else.
GONE = {"410": "Hidden by an admin (`recording.gone`)"}
# Multipart framing around the file; anything past limit + this is refused unread.
_MULTIPART_SLACK = 64 * 1024
#: The largest upload body, read by the web server before a view runs (castcore/bodies.py).
UPLOAD_BODY_LIMIT = conf.MAX_UPLOAD_BYTES + _MULTIPART_SLACK


def check_content_length(request: Request) -> None:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > conf.MAX_UPLOAD_BYTES + _MULTIPART_SLACK:
        raise compat_error(
            "asciicast.too_large",
            413,
            details=[{"line": 0, "message": "file too large"}],
            max_bytes=conf.MAX_UPLOAD_BYTES,
        )


def create_from_upload(request: Request, *fields: str) -> Recording:
    """The one upload path (v1 API, legacy 2.x path, native): validate, store, answer errors."""
    check_content_length(request)
    upload = next((request.FILES[name] for name in fields if name in request.FILES), None)
    if upload is None:
        raise compat_error(
            "validation.required",
            422,
            f"The multipart field `{fields[0]}` is required",
            field=fields[0],
        )
    title = request.data.get("title") if hasattr(request.data, "get") else None
    try:
        return services.recording_create_terminal(
            owner=request.user,  # type: ignore[arg-type]
            upload=upload,
            size=upload.size,
            title=title if isinstance(title, str) else None,
            request=request,
        )
    except services.UploadTooLarge as exc:
        raise compat_error(
            exc.code,
            413,
            f"The file is over {exc.limit} bytes",
            details=exc.details,
            max_bytes=exc.limit,
        ) from None
    except AsciicastInvalid as exc:
        raise compat_error(
            exc.code, 422, f"Invalid asciicast: {exc}", details=exc.details
        ) from None


def get_for_asciinema(request: Request, key: str) -> Recording:
    """`:id` is the id or the URL token; the caller must own it; hidden ones are gone."""
    recording = selectors.recording_by_key(key, public_ids_only=False)
    if recording is None:
        raise compat_error("not_found", 404)
    if recording.owner_id != request.user.pk:
        raise compat_error("permission.denied", 403)
    if recording.is_hidden:
        raise compat_error("recording.gone", 410)
    return recording


class RecordingsView(AsciinemaMixin, generics.GenericAPIView):
    """GET lists recordings (native); POST uploads an asciicast (asciinema or native)."""

    authentication_classes = AUTHENTICATION
    install_id_creates_account = True
    request_body_limit = UPLOAD_BODY_LIMIT
    serializer_class = s.RecordingSerializer
    filterset_class = RecordingFilter
    ordering_fields = ["created_at", "duration", "size", "title", "id"]
    queryset = Recording.objects.all()

    def get_queryset(self) -> QuerySet[Recording]:
        if getattr(self, "swagger_fake_view", False):
            return Recording.objects.none()
        if is_asciinema_request(self.request):
            return Recording.objects.filter(owner_id=self.request.user.pk, hidden_at__isnull=True)
        return selectors.recordings_for(self.request.user)

    @extend_schema(responses={200: s.RecordingSerializer(many=True)})
    def get(self, request: Request) -> Response:
        queryset = self.filter_queryset(self.get_queryset())
        if is_asciinema_request(request):
            rows: Any = list(queryset[:100])
            return Response(
                s.AsciinemaRecordingSerializer(rows, many=True, context={"request": request}).data
            )
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        request={"multipart/form-data": s.RecordingUploadSerializer},
        responses={
            201: OpenApiResponse(
                s.AsciinemaRecordingSerializer, description="asciinema (Basic auth)"
            ),
            413: OpenApiResponse(description="File over the size limit"),
            422: OpenApiResponse(
                description="Not a valid asciicast: {error, code, details[{line,message}]}"
            ),
        },
        description=(
            "asciinema CLI upload (Basic auth with the install ID; field `file`) answers "
            "asciinema's "
            "recording JSON; with a Bearer token (Operator) it answers the native recording."
        ),
    )
    def post(self, request: Request) -> Response:
        recording = create_from_upload(request, "file", "asciicast")
        context = {"request": request}
        body = (
            s.AsciinemaRecordingSerializer(recording, context=context).data
            if is_asciinema_request(request)
            else s.RecordingSerializer(recording, context=context).data
        )
        location = absolute_url(request, recording.page_path) or ""
        return Response(body, status=status.HTTP_201_CREATED, headers={"Location": location})


class RecordingDetailView(AsciinemaMixin, generics.GenericAPIView):
    """One recording of any kind: `{key}` is its id or its URL token."""

    authentication_classes = AUTHENTICATION
    serializer_class = s.RecordingSerializer
    queryset = Recording.objects.all()
    error_statuses = GONE

    def _native(self, key: str) -> Recording:
        recording = selectors.recording_for_api(self.request.user, key)
        if recording is None:
            raise compat_error("not_found", 404)
        if recording.is_hidden and not selectors.is_staff_viewer(self.request.user):
            raise compat_error("recording.gone", 410)
        return recording

    def _get(self, key: str) -> Recording:
        if is_asciinema_request(self.request):
            return get_for_asciinema(self.request, key)
        return self._native(key)

    def _body(self, recording: Recording) -> Any:
        context = {"request": self.request}
        if is_asciinema_request(self.request):
            return s.AsciinemaRecordingSerializer(recording, context=context).data
        return s.RecordingSerializer(recording, context=context).data

    @extend_schema(responses={200: s.RecordingSerializer})
    def get(self, request: Request, key: str) -> Response:
        return Response(self._body(self._get(key)))

    @extend_schema(request=s.RecordingUpdateSerializer, responses={200: s.RecordingSerializer})
    def patch(self, request: Request, key: str) -> Response:
        recording = self._get(key)
        data = s.RecordingUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if data.validated_data:
            services.recording_update(
                recording=recording, actor=request.user, request=request, **data.validated_data
            )
        return Response(self._body(recording))

    @extend_schema(responses={204: None})
    def delete(self, request: Request, key: str) -> Response:
        recording = self._get(key)
        services.recording_delete(recording=recording, actor=request.user, request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class RecordingFileView(generics.GenericAPIView):
    """The recording's file, with HTTP range requests (206, If-Range, ETag)."""

    queryset = Recording.objects.all()
    serializer_class = s.RecordingSerializer
    error_statuses = GONE

    @extend_schema(
        responses={
            (200, "application/octet-stream"): OpenApiTypes.BINARY,
            (206, "application/octet-stream"): OpenApiTypes.BINARY,
            416: OpenApiResponse(description="Range not satisfiable"),
        }
    )
    def get(self, request: Request, key: str) -> Any:
        # The id, or the URL token: whoever opened the recording by its token downloads it too.
        recording = selectors.recording_for_api(request.user, key)
        if recording is None or not recording.file:
            raise compat_error("not_found", 404)
        if recording.is_hidden and not selectors.is_staff_viewer(request.user):
            raise compat_error("recording.gone", 410)
        return serve_recording_file(request._request, recording, attachment=True)
