"""Metrics routes (Prometheus), mounted under /api/v1/ by castcore.urls."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from prometheus_client import CONTENT_TYPE_LATEST
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from apps.accounts.roles import Role
from apps.system.metrics import render_metrics


class PrometheusTextRenderer(BaseRenderer):
    """Lets `Accept: text/plain` (Prometheus) negotiate; the view renders the body itself."""

    media_type = "text/plain"
    format = "prometheus"

    def render(
        self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None
    ) -> Any:
        return data if isinstance(data, bytes) else str(data).encode()


class MetricsView(APIView):
    """Prometheus text exposition: job counts, per-job figures, worker heartbeat ages.

    Scrape with a read-only API token: `Authorization: Bearer cc_…`.
    """

    read_role = Role.VIEWER
    renderer_classes = [JSONRenderer, PrometheusTextRenderer]

    @extend_schema(
        operation_id="system_metrics",
        responses={
            (200, "text/plain"): OpenApiResponse(
                OpenApiTypes.STR, description="Prometheus text format 0.0.4."
            )
        },
    )
    def get(self, request: Request) -> HttpResponse:
        return HttpResponse(render_metrics(), content_type=CONTENT_TYPE_LATEST)


urlpatterns = [path("system/metrics", MetricsView.as_view(), name="system-metrics")]
