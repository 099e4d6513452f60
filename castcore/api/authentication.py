"""Bearer authentication: personal API tokens (`cc_…`) or access JWTs.

Both come as `Authorization: Bearer …`; a `cc_` prefix picks the token path.
`authenticate_bearer` is shared with the WebSocket middleware so sockets and
HTTP accept exactly the same credentials.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request
from rest_framework_simplejwt import authentication as jwt_authentication
from rest_framework_simplejwt.exceptions import TokenError

from apps.accounts.models import TOKEN_PREFIX


def basic_credentials(header: str | bytes) -> tuple[str, str] | None:
    """(user, password) of an `Authorization: Basic …` header, or None if it is not one.

    The password is not remembered as a secret here: the caller knows what it is.
    """
    if isinstance(header, bytes):
        header = header.decode("latin-1")
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


def _bearer(request: Request) -> str | None:
    parts = get_authorization_header(request).split()
    if len(parts) != 2 or parts[0].lower() != b"bearer":
        return None
    try:
        return parts[1].decode()
    except UnicodeDecodeError:
        return None


class ApiTokenAuthentication(BaseAuthentication):
    """`Authorization: Bearer cc_…`."""

    def authenticate(self, request: Request) -> tuple[AbstractBaseUser, Any] | None:
        from apps.accounts.services import api_token_authenticate

        raw = _bearer(request)
        if raw is None or not raw.startswith(TOKEN_PREFIX):
            return None
        token = api_token_authenticate(raw)
        if token is None:
            raise exceptions.AuthenticationFailed(code="auth.token_invalid")
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class JWTAuthentication(jwt_authentication.JWTAuthentication):
    """`Authorization: Bearer <access JWT>`; refresh tokens are refused here."""

    def authenticate(self, request: Request) -> Any:
        raw = _bearer(request)
        if raw is not None and raw.startswith(TOKEN_PREFIX):
            return None
        return super().authenticate(request)


def authenticate_bearer(raw: str) -> AbstractBaseUser | None:
    """The active user behind a raw bearer credential, for non-DRF callers."""
    from apps.accounts.services import api_token_authenticate

    if raw.startswith(TOKEN_PREFIX):
        token = api_token_authenticate(raw)
        return token.user if token else None
    backend = JWTAuthentication()
    try:
        validated = backend.get_validated_token(raw.encode())
        user = backend.get_user(validated)
    except (TokenError, exceptions.AuthenticationFailed, exceptions.APIException):
        return None
    return user if user.is_active else None


def session_or_bearer_user(request: HttpRequest) -> Any:
    """Who a plain Django view (files, HLS) serves: the site's session, else a bearer
    credential (a player or script that sends `Authorization`), else None."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return user
    parts = request.headers.get("Authorization", "").split()
    if len(parts) == 2 and parts[0].lower() == "bearer":
        return authenticate_bearer(parts[1])
    return None
