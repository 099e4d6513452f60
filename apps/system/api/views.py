from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.roles import Role
from apps.system import health
from apps.system.api.serializers import GlobalSettingsSerializer, HealthSerializer
from apps.system.models import GlobalSettings
from castcore.api.viewsets import save_audited


class HealthView(APIView):
    """Database, channel layer, broker, recent workers, ffmpeg and free disk: 200 or 503.

    A part that works but needs attention soon (free space below
    CASTCORE_HEALTH_MIN_FREE_MB) is a warning: still 200, status "warning".

    Open to load balancers without credentials; the details (versions, worker
    names) are shown only to signed-in users.
    """

    permission_classes = [AllowAny]
    public_methods = {"GET"}

    @extend_schema(responses={200: HealthSerializer, 503: HealthSerializer})
    def get(self, request: Request) -> Response:
        results = health.run_checks()
        show_detail = request.user.is_authenticated
        checks: dict[str, Any] = {}
        for name, result in results.items():
            checks[name] = {"ok": result.ok, **({"detail": result.detail} if show_detail else {})}
        failing = [name for name, result in results.items() if not result.ok]
        warnings = [name for name, result in results.items() if result.ok and result.warning]
        status = "unhealthy" if failing else "warning" if warnings else "ok"
        body = {"status": status, "failing": failing, "warnings": warnings, "checks": checks}
        return Response(body, status=503 if failing else 200)


class GlobalSettingsView(APIView):
    """Deployment-wide settings (Admin)."""

    read_role = Role.ADMIN
    write_role = Role.ADMIN

    @extend_schema(responses={200: GlobalSettingsSerializer})
    def get(self, request: Request) -> Response:
        return Response(GlobalSettingsSerializer(GlobalSettings.load()).data)

    @extend_schema(request=GlobalSettingsSerializer, responses={200: GlobalSettingsSerializer})
    def patch(self, request: Request) -> Response:
        data = GlobalSettingsSerializer(GlobalSettings.load(), data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        save_audited(data, request=request, action="settings.update")
        return Response(data.data)
