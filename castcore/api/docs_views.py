"""The API's index, the OpenAPI document and Swagger UI, public so clients can find their way."""

from __future__ import annotations

from functools import cache
from typing import Any

from django.conf import settings
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

API_PREFIX = "api/v1/"


class SchemaView(SpectacularAPIView):
    public_methods = {"GET"}


class SwaggerView(SpectacularSwaggerView):
    public_methods = {"GET"}


def _routes(patterns: list[Any], prefix: str) -> list[str]:
    found: list[str] = []
    for entry in patterns:
        if isinstance(entry, URLResolver):
            found += _routes(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            found.append(prefix + str(entry.pattern))
    return found


@cache
def api_resources() -> list[str]:
    """Every path under /api/v1/ that takes no parameter: the entry points of the API.

    Read from the URLconf, so a new endpoint appears here without new code.
    """
    paths = set()
    for route in _routes(get_resolver().url_patterns, ""):
        clean = route.replace("^", "").replace("$", "")
        if clean == API_PREFIX or not clean.startswith(API_PREFIX) or "<" in clean or "(" in clean:
            continue
        paths.add("/" + clean.rstrip("/"))
    return sorted(paths)


class ApiIndexView(APIView):
    """GET /api/v1/: where the schema and docs are, how to sign in, and every entry point."""

    permission_classes = [AllowAny]
    public_methods = {"GET"}

    @extend_schema(responses={200: OpenApiResponse(OpenApiTypes.OBJECT)})
    def get(self, request: Request) -> Response:
        return Response(
            {
                "name": settings.SPECTACULAR_SETTINGS["TITLE"],
                "version": settings.SPECTACULAR_SETTINGS["VERSION"],
                "schema": reverse("schema"),
                "docs": reverse("swagger-ui"),
                "auth": {
                    "login": reverse("auth-login"),
                    "header": "Authorization: Bearer <access JWT or cc_ token>",
                },
                "pagination": "?limit=&offset= -> {items, total, limit, offset}",
                "resources": api_resources(),
            }
        )
