"""The error envelope of the native API, for every status code.

    {"error": {"code": "<area>.<reason>", "params": {...}, "level": "error"}}

Codes are the contract (clients translate them); messages are not. Raise
`ApiError` (or a subclass) from services and views; DRF's own exceptions and
Django's Http404/PermissionDenied are translated here, in one place.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponsePermanentRedirect,
    JsonResponse,
)
from django.urls import Resolver404, resolve
from django.views import csrf, defaults
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError

from castcore.bodies import TOO_LARGE_CODE

logger = logging.getLogger("castcore.api")


class ApiError(exceptions.APIException):
    """An error with a machine-readable code, raised by services and views."""

    status_code: int = status.HTTP_400_BAD_REQUEST
    default_code = "request.invalid"

    def __init__(
        self,
        code: str | None = None,
        params: dict[str, Any] | None = None,
        *,
        status_code: int | None = None,
    ) -> None:
        self.code = code or self.default_code
        self.params = params or {}
        if status_code is not None:
            self.status_code = status_code
        super().__init__(detail=self.code, code=self.code)


class Conflict(ApiError):
    """The request is valid but conflicts with the current state (409)."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


def invalid_choice(field: str, allowed: list[str]) -> ApiError:
    """`validation.invalid_choice` for `field`, naming what the client may send instead."""
    code = "validation.invalid_choice"
    errors = [{"field": field, "code": code}]
    return ApiError(code, {"field": field, "allowed": allowed, "errors": errors})


def envelope(
    code: str, params: dict[str, Any] | None = None, level: str = "error"
) -> dict[str, Any]:
    return {"error": {"code": code, "params": params or {}, "level": level}}


def _flatten_validation(detail: Any, path: str = "") -> list[dict[str, Any]]:
    """Flatten DRF's nested validation detail into [{field, code, params}]."""
    errors: list[dict[str, Any]] = []
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = str(key)
            field = name if not path else f"{path}.{name}"
            if name in ("non_field_errors", "__all__"):
                field = path
            errors.extend(_flatten_validation(value, field))
    elif isinstance(detail, list):
        for index, item in enumerate(detail):
            # A list of errors for one field, or a list of nested objects.
            nested_path = f"{path}.{index}" if path else str(index)
            if isinstance(item, dict | list):
                errors.extend(_flatten_validation(item, nested_path))
            else:
                errors.extend(_flatten_validation(item, path))
    else:
        code = getattr(detail, "code", None) or "invalid"
        errors.append({"field": path or None, "code": _validation_code(code)})
    return errors


def _validation_code(code: str) -> str:
    return code if "." in code else f"validation.{code}"


def _validation_envelope(exc: exceptions.ValidationError) -> dict[str, Any]:
    errors = _flatten_validation(exc.detail)
    if not errors:
        return envelope("validation.invalid")
    first = errors[0]
    params: dict[str, Any] = {"errors": errors}
    if first["field"]:
        params["field"] = first["field"]
    return envelope(first["code"], params)


_DRF_CODES: dict[type[exceptions.APIException], str] = {
    exceptions.NotAuthenticated: "auth.not_authenticated",
    exceptions.AuthenticationFailed: "auth.invalid_credentials",
    exceptions.PermissionDenied: "permission.denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "request.not_acceptable",
    exceptions.UnsupportedMediaType: "request.unsupported_media_type",
    exceptions.ParseError: "request.malformed",
    exceptions.Throttled: "rate_limited",
}


def _code_for(exc: exceptions.APIException) -> tuple[str, dict[str, Any]]:
    if isinstance(exc, ApiError):
        return exc.code, exc.params
    if isinstance(exc, InvalidToken):
        return "auth.token_invalid", {}
    for exc_type, code in _DRF_CODES.items():
        if isinstance(exc, exc_type):
            params: dict[str, Any] = {}
            if isinstance(exc, exceptions.Throttled) and getattr(exc, "wait", None) is not None:
                params = {"retry_after": int(exc.wait) + 1}  # type: ignore[attr-defined]
            # Authentication classes may give a more precise code of their own.
            detail_code = getattr(exc.detail, "code", None)
            if isinstance(detail_code, str) and "." in detail_code:
                return detail_code, params
            return code, params
    return "request.invalid", {}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF exception handler: every error leaves as an envelope, 500s included."""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, TokenError):
        exc = InvalidToken()

    if isinstance(exc, RequestDataTooBig):
        return Response(_too_large(), status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)

    if isinstance(exc, exceptions.ValidationError):
        set_rollback()
        return Response(_validation_envelope(exc), status=status.HTTP_400_BAD_REQUEST)

    if isinstance(exc, exceptions.APIException):
        set_rollback()
        code, params = _code_for(exc)
        request = context.get("request")
        if isinstance(exc, exceptions.MethodNotAllowed) and request is not None:
            params = {"method": request.method}
        headers: dict[str, str] = {}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header  # type: ignore[attr-defined]
        wait = getattr(exc, "wait", None)
        if isinstance(exc, exceptions.Throttled) and wait is not None:
            headers["Retry-After"] = str(int(wait) + 1)
        elif isinstance(wait, int):  # an error that says how long to wait (a login lockout)
            headers["Retry-After"] = str(wait)
        return Response(envelope(code, params), status=exc.status_code, headers=headers)

    # Anything else is a bug: log it (the log filter redacts secrets) and
    # answer in the envelope, never with a traceback page.
    view = context.get("view")
    logger.exception("Unhandled error in %s", type(view).__name__ if view else "API view")
    set_rollback()
    return Response(envelope("server.error"), status=status.HTTP_500_INTERNAL_SERVER_ERROR)


def _other_slash(request: HttpRequest) -> str | None:
    """The path with its trailing slash toggled, if that path is an API route."""
    path = request.path_info
    other = path.rstrip("/") if path.endswith("/") else path + "/"
    if not other or other == path:
        return None
    try:
        match = resolve(other)
    except Resolver404:
        return None
    return None if match.func is api_not_found else other


@csrf_exempt  # an unknown path is a 404 whatever the method; no CSRF page first
def api_not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """Catch-all for unknown paths under /api/ (in DEBUG too).

    A route spelt with the other trailing slash (`/api/v1/users/`, `/api/v1`) is
    redirected with 308, which keeps the method and the body (a 301 turns a
    POST into a GET), so clients that add or drop the slash still work.
    """
    other = _other_slash(request)
    if other is not None:
        location = request.path[: len(request.path) - len(request.path_info)] + other
        query = request.META.get("QUERY_STRING", "")
        return HttpResponsePermanentRedirect(
            f"{location}?{query}" if query else location, preserve_request=True
        )
    return JsonResponse(envelope("not_found", {"path": request.path}), status=404)


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def _too_large() -> dict[str, Any]:
    # A body the server let through (within its route's limit, castcore.bodies) that is
    # still more than Django reads into memory when a view asks for request.body. The
    # server's own refusal's code and shape: a client sees one answer for "too large".
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return envelope(TOO_LARGE_CODE, {"limit_bytes": limit} if limit is not None else {})


def handler400(request: HttpRequest, exception: Exception | None = None) -> Any:
    if isinstance(exception, RequestDataTooBig):  # Django views (pages, admin forms)
        return JsonResponse(_too_large(), status=413)
    if _is_api(request):
        return JsonResponse(envelope("request.invalid"), status=400)
    return defaults.bad_request(request, exception)  # type: ignore[arg-type]


def handler403(request: HttpRequest, exception: Exception | None = None) -> Any:
    if _is_api(request):
        return JsonResponse(envelope("permission.denied"), status=403)
    return defaults.permission_denied(request, exception)  # type: ignore[arg-type]


def handler404(request: HttpRequest, exception: Exception | None = None) -> Any:
    if _is_api(request):
        return api_not_found(request)
    return defaults.page_not_found(request, exception)


def handler500(request: HttpRequest) -> Any:
    if _is_api(request):
        return JsonResponse(envelope("server.error"), status=500)
    return defaults.server_error(request)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: an envelope under /api/, Django's page elsewhere.

    API views authenticate with bearer tokens and are exempt; this answers a
    browser form or a cookie-authenticated view under /api/ that failed the check.
    """
    if _is_api(request):
        return JsonResponse(envelope("permission.csrf_failed"), status=403)
    return csrf.csrf_failure(request, reason)
