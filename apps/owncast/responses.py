"""Owncast's answers: `{"success", "message"}`, its plain-text 401 and 404, its CORS headers.

Owncast (0.0.10, controllers/ and router/middleware/) answers:
- simple results as `{"success": bool, "message": "…"}`, 200 on success, 400 otherwise;
- a failed admin login as 401 `Unauthorized` (text) with a Basic challenge, a missing or
  insufficient integration or chat token as 401 `unauthorized` (text);
- an unknown path as Go's 404 `404 page not found` (text);
- CORS: `Access-Control-Allow-Origin: *` on public, chat and integration endpoints (a
  preflight OPTIONS is a 204); the admin endpoints allow Owncast's development origin
  only (`http://localhost:3000`, with credentials).
Errors of CastCore's own rules (a chat rate limit, a refused name, a body over its
route's limit) keep their status and come as
`{"success": false, "message": "<code>", "params": {…}}`.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from apps.owncast.auth import ADMIN_REALM
from castcore.api.errors import ApiError
from castcore.api.schema import ErrorShape
from castcore.bodies import TOO_LARGE_CODE

logger = logging.getLogger(__name__)

PUBLIC_CORS = {"Access-Control-Allow-Origin": "*"}
ADMIN_CORS = {
    "Access-Control-Allow-Origin": "http://localhost:3000",
    "Access-Control-Allow-Credentials": "true",
    "Access-Control-Allow-Headers": "Origin, X-Requested-With, Content-Type, Accept, Authorization",
}


def simple_response(success: bool, message: str, status_code: int | None = None) -> Response:
    """Owncast's BaseAPIResponse: 200 when it succeeded, 400 when not (unless told)."""
    code = status_code or (status.HTTP_200_OK if success else status.HTTP_400_BAD_REQUEST)
    return Response({"success": success, "message": message}, status=code)


def error_response(message: str, status_code: int = status.HTTP_400_BAD_REQUEST) -> Response:
    """Owncast's BadRequestHandler / InternalErrorHandler body: `{"error": "…"}`."""
    return Response({"error": message}, status=status_code)


def too_large_body(limit: int) -> bytes:
    """castcore.bodies' 413 on an Owncast route (a body over its limit, refused before any
    view runs): Owncast's shape with CastCore's code, as for CastCore's other rules."""
    refusal = {"success": False, "message": TOO_LARGE_CODE, "params": {"limit_bytes": limit}}
    return json.dumps(refusal).encode()


def _text(body: str, status_code: int, headers: dict[str, str] | None = None) -> HttpResponse:
    response = HttpResponse(body, status=status_code, content_type="text/plain; charset=utf-8")
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def not_found() -> HttpResponse:
    return _text("404 page not found\n", status.HTTP_404_NOT_FOUND)


def owncast_not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """Any other path under an Owncast base: Go's 404, as Owncast's server answers it."""
    return not_found()


def admin_unauthorized() -> HttpResponse:
    return _text(
        "Unauthorized\n",
        status.HTTP_401_UNAUTHORIZED,
        {"WWW-Authenticate": f'Basic realm="{ADMIN_REALM}"'},
    )


def token_unauthorized() -> HttpResponse:
    return _text("unauthorized", status.HTTP_401_UNAUTHORIZED)


def owncast_exception_handler(exc: Exception, context: dict[str, Any]) -> HttpResponse:
    """Every error of an Owncast view in Owncast's shape (nothing of the native envelope)."""
    set_rollback()
    view = context.get("view")
    request = context.get("request")
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        return view.unauthorized() if view is not None else token_unauthorized()
    if isinstance(exc, exceptions.NotFound):
        return not_found()
    if isinstance(exc, exceptions.MethodNotAllowed):
        # Owncast's handlers check the method themselves: WriteSimpleResponse(false, …).
        method = request.method if request is not None else ""
        return simple_response(False, f"{method} not supported")
    if isinstance(exc, ApiError):
        body: dict[str, Any] = {"success": False, "message": exc.code}
        if exc.params:
            body["params"] = exc.params
        return Response(body, status=exc.status_code)
    if isinstance(exc, exceptions.ValidationError):
        return simple_response(False, _first_message(exc.detail))
    if isinstance(exc, exceptions.Throttled):
        response = simple_response(False, "rate limited", status.HTTP_429_TOO_MANY_REQUESTS)
        wait = getattr(exc, "wait", None)
        if wait is not None:
            response["Retry-After"] = str(int(wait) + 1)
        return response
    if isinstance(exc, exceptions.APIException):
        return simple_response(False, str(exc.detail), exc.status_code)
    from castcore.api.errors import exception_handler

    # A bug: the native handler logs it (secrets redacted); the client gets Owncast's shape.
    native = exception_handler(exc, context)
    return error_response("internal server error", native.status_code)


def _first_message(detail: Any) -> str:
    if isinstance(detail, dict):
        for field, errors in detail.items():
            return f"{field}: {_first_message(errors)}"
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    return str(detail) or "invalid request"


OWNCAST_ERRORS = ErrorShape(
    "OwncastError",
    {
        "type": "object",
        "description": "Owncast's BaseAPIResponse (its 401 and 404 are plain text).",
        "properties": {
            "success": {"type": "boolean", "example": False},
            "message": {"type": "string", "example": "chat.rate_limited"},
            "params": {"type": "object", "additionalProperties": True},
            "error": {"type": "string"},
        },
    },
    plain_text=frozenset({"401", "404"}),
    descriptions={
        "401": "Not authenticated: admin Basic auth refused (`Unauthorized`, Basic challenge), "
        "or an access token missing, invalid, without the scope or bound to another stream "
        "(`unauthorized`)",
        "404": "No such stream at this base, or no default stream (`404 page not found`)",
    },
)
