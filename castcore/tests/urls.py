"""The real URLconf plus views that exist only to provoke a 500, a 429 and a CSRF failure."""

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView


class BoomView(APIView):
    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        raise RuntimeError("unexpected failure with secret-in-error-123456")


class OncePerMinute(AnonRateThrottle):
    rate = "1/min"


class ThrottledView(APIView):
    permission_classes = [AllowAny]
    throttle_classes = [OncePerMinute]

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


def form_view(request: HttpRequest) -> HttpResponse:
    """A plain Django view under /api/ (not DRF, so not CSRF-exempt)."""
    return HttpResponse("ok")


urlpatterns: list[Any] = [
    path("api/v1/test/form", form_view),
    path("api/v1/test/boom", BoomView.as_view()),
    path("api/v1/test/throttled", ThrottledView.as_view()),
    path("", include("castcore.urls")),
]
