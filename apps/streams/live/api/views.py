"""/api/v1/live-streams: live streams, their keys, sessions and the stop of a publish."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.streams.live import services, viewers
from apps.streams.live.api import serializers as s
from apps.streams.live.filters import LiveStreamFilter
from apps.streams.live.models import LiveStream
from apps.streams.live.selectors import (
    listed_live_streams,
    may_manage_live_stream,
    visible_live_streams,
    with_open_session,
)
from castcore.api.viewsets import CastCoreViewSet
from castcore.secrets import mask

_FLAT = ("profile", "recording_enabled")


def _service_fields(validated: dict[str, Any]) -> dict[str, Any]:
    """The serializer's nested `job` values as the services take them."""
    data = dict(validated)
    job = data.pop("job", {})
    for name in _FLAT:
        if name in job:
            data[name] = job[name]
    if "outputs" in job:
        data["outputs"] = job["outputs"]
    return data


class LiveStreamViewSet(CastCoreViewSet):
    """Live streams: what publishers send to and viewers watch. The ingest key is write-only:
    shown in clear once (create, rotate-key), masked otherwise."""

    queryset = LiveStream.objects.select_related("job__profile").prefetch_related("job__outputs")
    serializer_class = s.LiveStreamSerializer
    filterset_class = LiveStreamFilter
    ordering_fields = ["id", "name", "slug", "created_at", "updated_at"]
    lookup_value_regex = r"\d+"

    def restrict(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        visible = visible_live_streams(self.request.user, queryset)
        if self.action == "list":
            # The list is what the home page lists: others' unlisted streams are reached
            # by their link (id or slug), never by browsing.
            visible = visible.filter(pk__in=listed_live_streams(self.request.user).values("pk"))
        return with_open_session(visible)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        assert page is not None  # the viewsets always paginate
        # One store read per page rather than one per serialised stream.
        context = {
            **self.get_serializer_context(),
            "viewer_counts": viewers.viewer_counts(stream.pk for stream in page),
        }
        data = s.LiveStreamSerializer(page, many=True, context=context).data
        return self.get_paginated_response(data)

    def get_object(self) -> LiveStream:
        stream: LiveStream = super().get_object()
        if self.request.method not in ("GET", "HEAD", "OPTIONS") and not may_manage_live_stream(
            self.request.user, stream
        ):
            # Operators manage their own streams; Admins every one.
            raise exceptions.PermissionDenied(code="permission.not_owner")
        return stream

    def _fresh(self, pk: int) -> LiveStream:
        return self.get_queryset().get(pk=pk)

    @extend_schema(responses={201: s.LiveStreamCreatedSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        fields = _service_fields(serializer.validated_data)
        chosen_key = fields.pop("ingest_key", None)
        stream, key = services.live_stream_create(actor=request.user, request=request, **fields)
        if chosen_key:
            key = services.live_stream_set_key(
                actor=request.user, stream=stream, key=chosen_key, request=request
            )
        data = s.LiveStreamSerializer(
            self._fresh(stream.pk), context=self.get_serializer_context()
        ).data
        return Response({**data, "ingest_key": key}, status=status.HTTP_201_CREATED)

    def perform_update(self, serializer: s.LiveStreamSerializer) -> None:  # type: ignore[override]
        fields = _service_fields(serializer.validated_data)
        stream: LiveStream = serializer.instance  # type: ignore[assignment]
        key = fields.pop("ingest_key", None)
        services.live_stream_update(
            actor=self.request.user, stream=stream, request=self.request, **fields
        )
        if key:
            services.live_stream_set_key(
                actor=self.request.user, stream=stream, key=key, request=self.request
            )
        serializer.instance = self._fresh(stream.pk)

    def perform_destroy(self, instance: LiveStream) -> None:  # type: ignore[override]
        services.live_stream_delete(actor=self.request.user, stream=instance, request=self.request)

    @extend_schema(request=None, responses={200: s.IngestKeySerializer})
    @action(detail=True, methods=["post"], url_path="rotate-key")
    def rotate_key(self, request: Request, pk: str) -> Response:
        stream = self.get_object()
        key = services.live_stream_rotate_key(actor=request.user, stream=stream, request=request)
        return Response({"ingest_key": key, "ingest_key_masked": mask(key)})

    @extend_schema(request=None, responses={200: s.LiveStreamSerializer})
    @action(detail=True, methods=["post"], url_path="revoke-key")
    def revoke_key(self, request: Request, pk: str) -> Response:
        stream = self.get_object()
        services.live_stream_revoke_key(actor=request.user, stream=stream, request=request)
        return Response(
            s.LiveStreamSerializer(
                self._fresh(stream.pk), context=self.get_serializer_context()
            ).data
        )

    @extend_schema(
        request=None,
        responses={200: s.LiveStreamSerializer},
        description="Ends the current publish now: the session closes, the job stops and "
        "nginx drops the publisher. Nothing live: unchanged.",
    )
    @action(detail=True, methods=["post"])
    def stop(self, request: Request, pk: str) -> Response:
        stream = self.get_object()
        services.live_stream_stop(actor=request.user, stream=stream, request=request)
        return Response(
            s.LiveStreamSerializer(
                self._fresh(stream.pk), context=self.get_serializer_context()
            ).data
        )

    @extend_schema(responses={200: s.LiveSessionSerializer(many=True)}, filters=False)
    @action(detail=True, methods=["get"], filterset_class=None, ordering_fields=["started_at"])
    def sessions(self, request: Request, pk: str) -> Response:
        sessions = self.get_object().sessions.order_by("-started_at", "-id")
        page = self.paginate_queryset(sessions)
        return self.get_paginated_response(s.LiveSessionSerializer(page, many=True).data)

    @extend_schema(
        responses={200: s.ViewerSampleSerializer(many=True)},
        filters=False,
        parameters=[
            OpenApiParameter(
                "since", OpenApiTypes.DATETIME, description="Only samples at or after this."
            )
        ],
    )
    @action(detail=True, methods=["get"], filterset_class=None, ordering_fields=["at"])
    def viewers(self, request: Request, pk: str) -> Response:
        """The stream's viewer counts over time, newest first (sampled while it is live)."""
        query = s.ViewerSampleQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        samples = self.get_object().viewer_samples.order_by("-at", "-id")
        if "since" in query.validated_data:
            samples = samples.filter(at__gte=query.validated_data["since"])
        page = self.paginate_queryset(samples)
        return self.get_paginated_response(s.ViewerSampleSerializer(page, many=True).data)
