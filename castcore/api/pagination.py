"""`?limit=&offset=` pagination answering `{items, total, limit, offset}`."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework import pagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from castcore.api.errors import ApiError
from castcore.api.filters import MAX_ID, parse_id

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


def _parse_bound(request: Request, name: str, default: int, minimum: int) -> int:
    """A whole number from the query string; MAX_ID + 1 stands for "beyond any id".

    ASCII digits only (castcore.api.filters.parse_id says why); a leading "-" is
    read so that "-5" is reported as below the minimum rather than as malformed.
    """
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    digits = raw.removeprefix("-")
    if not (digits.isascii() and digits.isdigit()):
        raise ApiError("validation.invalid", {"field": name, "value": raw})
    value = parse_id(digits)
    if value is None:
        value = MAX_ID + 1
    if digits != raw:
        value = -value
    if value < minimum:
        raise ApiError("validation.min_value", {"field": name, "min": minimum})
    return value


class LimitOffsetPagination(pagination.BasePagination):
    """Bad bounds are a 400 with the field named; a too-large limit is capped."""

    default_limit = DEFAULT_LIMIT
    max_limit = MAX_LIMIT

    def paginate_queryset(
        self, queryset: QuerySet[Any] | list[Any], request: Request, view: APIView | None = None
    ) -> list[Any]:
        limit = min(_parse_bound(request, "limit", self.default_limit, 1), self.max_limit)
        offset = _parse_bound(request, "offset", 0, 0)
        if offset > MAX_ID:
            # The database's OFFSET is a BIGINT too: 2**63 was an OverflowError, a 500.
            raise ApiError("validation.max_value", {"field": "offset", "max": MAX_ID})
        self.limit, self.offset = limit, offset
        self.total = queryset.count() if isinstance(queryset, QuerySet) else len(queryset)
        if offset >= self.total:
            return []  # past the end: no query, whatever the offset
        return list(queryset[offset : offset + limit])

    def get_paginated_response(self, data: Any) -> Response:
        return Response(
            {"items": data, "total": self.total, "limit": self.limit, "offset": self.offset}
        )

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["items", "total", "limit", "offset"],
            "properties": {
                "items": schema,
                "total": {"type": "integer", "example": 123},
                "limit": {"type": "integer", "example": DEFAULT_LIMIT},
                "offset": {"type": "integer", "example": 0},
            },
        }

    def get_schema_operation_parameters(self, view: APIView) -> list[dict[str, Any]]:
        return [
            {
                "name": "limit",
                "required": False,
                "in": "query",
                "description": f"Items per page (1–{MAX_LIMIT}, default {DEFAULT_LIMIT}).",
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
            },
            {
                "name": "offset",
                "required": False,
                "in": "query",
                "description": "Index of the first item.",
                "schema": {"type": "integer", "minimum": 0, "maximum": MAX_ID},
            },
        ]
