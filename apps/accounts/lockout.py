from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from castcore.api.errors import envelope


def lockout_response(
    request: HttpRequest, credentials: Any = None, *args: Any, **kwargs: Any
) -> HttpResponse:
    """django-axes lockout: the error envelope for the API, a plain page elsewhere."""
    retry_after = int(settings.AXES_COOLOFF_TIME.total_seconds())
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse(
            envelope("auth.locked_out", {"retry_after": retry_after}), status=429
        )
    else:
        response = HttpResponse(
            "Too many failed sign-in attempts. Try again later.",
            status=429,
            content_type="text/plain",
        )
    response["Retry-After"] = str(retry_after)
    return response
