"""asciinema's live stream endpoints: /api/v1/streams, /streams/:id, /user/streams."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any
from urllib.parse import urlencode

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.recordings import selectors, stream_services
from apps.recordings.api import serializers as s
from apps.recordings.api.compat import AsciinemaOnlyMixin, absolute_url, compat_error
from apps.recordings.models import TerminalStream
from castcore import json_depth as bounded_json
from castcore.api.filters import parse_id

DEFAULT_LIMIT, MAX_LIMIT = 10, 100


def _own_stream(request: Request, key: str) -> TerminalStream:
    stream = selectors.stream_by_key(key, public_ids_only=False)
    if stream is None:
        raise compat_error("not_found", 404)
    if stream.owner_id != request.user.pk:
        raise compat_error("permission.denied", 403)
    return stream


def _writable(request: Request) -> dict[str, Any]:
    data = s.StreamSerializer(data=request.data, partial=True)
    if not data.is_valid():
        raise compat_error(
            "validation.invalid", 422, "Invalid stream attributes", details=data.errors
        )
    return dict(data.validated_data)


class StreamsView(AsciinemaOnlyMixin, APIView):
    """Create a live stream endpoint; broadcasting starts when a producer connects."""

    @extend_schema(request=s.StreamSerializer, responses={201: s.StreamSerializer})
    def post(self, request: Request) -> Response:
        fields: dict[str, Any] = _writable(request)
        stream = stream_services.stream_create(
            owner=request.user,  # type: ignore[arg-type]
            request=request,
            **{k: ("" if v is None else v) for k, v in fields.items()},  # type: ignore[arg-type]
        )
        body = s.StreamSerializer(stream, context={"request": request}).data
        location = absolute_url(request, stream.page_path) or ""
        return Response(body, status=status.HTTP_201_CREATED, headers={"Location": location})


class StreamDetailView(AsciinemaOnlyMixin, APIView):
    """One stream; `:id` is its id or URL token."""

    @extend_schema(responses={200: s.StreamSerializer})
    def get(self, request: Request, key: str) -> Response:
        return Response(
            s.StreamSerializer(_own_stream(request, key), context={"request": request}).data
        )

    @extend_schema(request=s.StreamSerializer, responses={200: s.StreamSerializer})
    def patch(self, request: Request, key: str) -> Response:
        stream = _own_stream(request, key)
        fields = _writable(request)
        if fields:
            stream = stream_services.stream_update(
                stream=stream, actor=request.user, request=request, **fields
            )
        return Response(s.StreamSerializer(stream, context={"request": request}).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, key: str) -> Response:
        stream_services.stream_delete(
            stream=_own_stream(request, key), actor=request.user, request=request
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


def _decode_cursor(raw: str) -> int:
    try:
        value = bounded_json.loads(base64.urlsafe_b64decode(raw.encode()).decode())["id"]
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise compat_error("validation.invalid", 422, "Invalid cursor", field="cursor") from None
    if not isinstance(value, int):
        raise compat_error("validation.invalid", 422, "Invalid cursor", field="cursor")
    return value


def _encode_cursor(last_id: int, prefix: str | None) -> str:
    return base64.urlsafe_b64encode(json.dumps({"id": last_id, "prefix": prefix}).encode()).decode()


class UserStreamsView(AsciinemaOnlyMixin, APIView):
    """The caller's streams, oldest first, `limit` (≤ 100) per page; next page in `Link`."""

    @extend_schema(
        parameters=[
            OpenApiParameter("limit", OpenApiTypes.INT, description="1–100, default 10"),
            OpenApiParameter("prefix", OpenApiTypes.STR, description="URL token prefix"),
            OpenApiParameter("cursor", OpenApiTypes.STR, description="From the Link header"),
        ],
        responses={
            200: OpenApiResponse(s.StreamSerializer(many=True), description='Link: <…>; rel="next"')
        },
    )
    def get(self, request: Request) -> Response:
        raw_limit = request.query_params.get("limit") or str(DEFAULT_LIMIT)
        wanted = parse_id(raw_limit)
        if wanted is None or wanted < 1:
            raise compat_error(
                "validation.invalid", 422, "limit must be a positive integer", field="limit"
            )
        limit = min(wanted, MAX_LIMIT)
        prefix = request.query_params.get("prefix") or None
        queryset = TerminalStream.objects.filter(owner_id=request.user.pk).order_by("id")
        if prefix:
            queryset = queryset.filter(url_token__startswith=prefix)
        cursor = request.query_params.get("cursor")
        if cursor:
            queryset = queryset.filter(id__gt=_decode_cursor(cursor))
        rows = list(queryset[: limit + 1])
        page = rows[:limit]
        headers = {}
        if len(rows) > limit:
            query = {"cursor": _encode_cursor(page[-1].pk, prefix), "limit": limit}
            if prefix:
                query["prefix"] = prefix
            next_url = absolute_url(request, f"{request.path}?{urlencode(query)}")
            headers["Link"] = f'<{next_url}>; rel="next"'
        items: Any = page
        body = s.StreamSerializer(items, many=True, context={"request": request}).data
        return Response(body, headers=headers)
