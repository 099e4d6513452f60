"""The asciinema side of the API: install-ID Basic auth, its error shape, absolute URLs.

asciinema clients send `Authorization: Basic base64(<user>:<install ID>)` and
read errors as `{"error": "<message>"}` (plus `code` and `details` here, so a
machine can tell them apart). Views shared with the native API pick one side
per request from the Authorization scheme (`is_asciinema_request`).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from rest_framework import exceptions, status
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import set_rollback

from apps.accounts.cli_installs import cli_install_authenticate, install_id_from_basic
from apps.recordings import conf
from apps.system.models import GlobalSettings
from castcore.api.errors import ApiError
from castcore.api.schema import NATIVE_ERRORS, ErrorShape

MESSAGES = {
    401: "Invalid or revoked install ID",
    403: "Access denied",
    404: "Not found",
    410: "This recording is no longer available",
    413: "The file is too large",
    422: "Invalid request",
    500: "Internal server error",
}


def is_asciinema_request(request: HttpRequest | Request) -> bool:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    return header[:6].lower() == "basic "


def upload_auth_required() -> bool:
    return conf.UPLOAD_AUTH_REQUIRED or GlobalSettings.load().upload_auth_required


class InstallIdAuthentication(BaseAuthentication):
    """HTTP Basic whose password is an asciinema CLI install ID.

    On upload endpoints (`view.install_id_creates_account`) an unknown ID gets
    a temporary account, unless uploads require a linked CLI.
    """

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        header = get_authorization_header(request)
        if header[:6].lower() != b"basic ":
            return None
        raw = install_id_from_basic(header)
        if raw is None:
            raise exceptions.AuthenticationFailed(code="auth.install_id_invalid")
        view = request.parser_context.get("view") if request.parser_context else None
        upload = (
            bool(getattr(view, "install_id_creates_account", False)) and request.method == "POST"
        )
        strict = upload and upload_auth_required()
        install = cli_install_authenticate(
            raw_install_id=raw,
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
            create_temporary=upload and not strict,
        )
        if install is None or (strict and install.user.is_temporary):
            raise exceptions.AuthenticationFailed(code="auth.install_id_invalid")
        return install.user, install

    def authenticate_header(self, request: Request) -> str:
        return 'Basic realm="asciinema"'


class InstallIdScheme(OpenApiAuthenticationExtension):
    target_class = "apps.recordings.api.compat.InstallIdAuthentication"
    name = "asciinemaInstallId"

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "basic",
            "description": "asciinema CLI: any username, the CLI install ID as the password.",
        }


def compat_error(code: str, status_code: int, message: str | None = None, **extra: Any) -> ApiError:
    """An error that renders as asciinema's `{"error": …}` (and as the envelope natively)."""
    return ApiError(
        code,
        {"message": message or MESSAGES.get(status_code, code), **extra},
        status_code=status_code,
    )


def error_body(
    status_code: int, code: str, message: str | None = None, details: Any = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"error": message or MESSAGES.get(status_code, code), "code": code}
    if details:
        body["details"] = details
    return body


def asciinema_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """Every error of the asciinema surface as `{"error": message, "code", "details"?}`."""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    set_rollback()
    headers: dict[str, str] = {}
    if isinstance(exc, ApiError):
        params = dict(exc.params)
        body = error_body(
            exc.status_code, exc.code, params.pop("message", None), params.pop("details", None)
        )
        # What else the client needs to fix the request (`max_bytes`, `field`), beside
        # asciinema's own keys: its CLI reads only `error`.
        body.update({key: value for key, value in params.items() if key not in body})
        return Response(body, status=exc.status_code)
    if isinstance(exc, exceptions.ValidationError):
        return Response(
            error_body(422, "validation.invalid", details=exc.detail),
            status=status.HTTP_422_UNPROCESSABLE_ENTITY,
        )
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        headers["WWW-Authenticate"] = 'Basic realm="asciinema"'
        return Response(error_body(401, "auth.install_id_invalid"), status=401, headers=headers)
    if isinstance(exc, exceptions.APIException):
        code = {403: "permission.denied", 404: "not_found"}.get(exc.status_code, "request.invalid")
        return Response(error_body(exc.status_code, code, str(exc.detail)), status=exc.status_code)
    from castcore.api.errors import exception_handler

    # A bug: the native handler logs it (secrets redacted); the CLI still gets its shape.
    response = exception_handler(exc, context)
    return Response(error_body(500, "server.error"), status=response.status_code)


ASCIINEMA_ERRORS = ErrorShape(
    "AsciinemaError",
    {
        "type": "object",
        "required": ["error", "code"],
        "properties": {
            "error": {"type": "string", "example": MESSAGES[401]},
            "code": {"type": "string", "example": "auth.install_id_invalid"},
            "details": {},
        },
    },
    validation_status="422",
    descriptions={
        "401": 'Install ID unknown or revoked (`WWW-Authenticate: Basic realm="asciinema"`)',
    },
)


class AsciinemaMixin:
    """For views shared with the native API: Basic requests get asciinema's error shape."""

    install_id_creates_account = False
    # For the schema (castcore.api.schema): errors come in either shape.
    error_shapes: tuple[ErrorShape, ...] = (NATIVE_ERRORS, ASCIINEMA_ERRORS)

    def get_exception_handler(self) -> Any:
        request = getattr(self, "request", None)
        if request is not None and is_asciinema_request(request):
            return asciinema_exception_handler
        return super().get_exception_handler()  # type: ignore[misc]

    def get_permissions(self) -> list[Any]:
        request = getattr(self, "request", None)
        if request is not None and is_asciinema_request(request):
            from rest_framework.permissions import IsAuthenticated

            return [IsAuthenticated()]
        return super().get_permissions()  # type: ignore[misc]


class AsciinemaOnlyMixin(AsciinemaMixin):
    """For views that are purely asciinema (streams): always its shape, install IDs only."""

    compat_api = True
    authentication_classes: Any = [InstallIdAuthentication]
    error_shapes = (ASCIINEMA_ERRORS,)

    def get_exception_handler(self) -> Any:
        return asciinema_exception_handler

    def get_permissions(self) -> list[Any]:
        from rest_framework.permissions import IsAuthenticated

        return [IsAuthenticated()]


def public_base(request: HttpRequest | Request) -> str:
    """Base URL clients should use: GlobalSettings.public_url, else this request's host."""
    configured = (GlobalSettings.load().public_url or "").rstrip("/")
    return configured or request.build_absolute_uri("/").rstrip("/")


def absolute_url(request: HttpRequest | Request, path: str | None) -> str | None:
    return f"{public_base(request)}{path}" if path else None


def ws_url(request: HttpRequest | Request, path: str) -> str:
    base = public_base(request)
    scheme, _, rest = base.partition("://")
    return f"{'wss' if scheme == 'https' else 'ws'}://{rest}{path}"
