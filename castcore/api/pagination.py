"""`?limit=&offset=` pagination answering `{items, total, limit, offset}`."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework import pagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from castcore.api.errors import ApiError

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


def _parse_non_negative(request: Request, name: str, default: int, minimum: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError("validation.invalid", {"field": name, "value": raw}) from None
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
        limit = min(_parse_non_negative(request, "limit", self.default_limit, 1), self.max_limit)
        offset = _parse_non_negative(request, "offset", 0, 0)
        self.limit, self.offset = limit, offset
        self.total = queryset.count() if isinstance(queryset, QuerySet) else len(queryset)
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
                "schema": {"type": "integer", "minimum": 0},
            },
        ]
