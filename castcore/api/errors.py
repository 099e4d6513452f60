"""The error envelope of the native API, for every status code.

    {"error": {"code": "<area>.<reason>", "params": {...}, "level": "error"}}

Codes are the contract (clients translate them); messages are not. Raise
`ApiError` (or a subclass) from services and views; DRF's own exceptions and
Django's Http404/PermissionDenied are translated here, in one place.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError

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


def api_not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    """Catch-all for unknown paths under /api/v1/ (in DEBUG too)."""
    return JsonResponse(envelope("not_found", {"path": request.path}), status=404)


def handler404(request: HttpRequest, exception: Exception | None = None) -> Any:
    if request.path.startswith("/api/"):
        return api_not_found(request)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def handler500(request: HttpRequest) -> Any:
    if request.path.startswith("/api/"):
        return JsonResponse(envelope("server.error"), status=500)
    from django.views.defaults import server_error

    return server_error(request)
