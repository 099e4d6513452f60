"""`Authorization: Bearer cci_…` for bots and services, and the scope check that goes with it.

For other apps' views (the chat API, the Owncast surface):

    authentication_classes = [
        IntegrationTokenAuthentication, *api_settings.DEFAULT_AUTHENTICATION_CLASSES
    ]
    permission_classes = [requires_scope(Scope.CHAT_SEND) | RolePermission]

A token authenticates as an `IntegrationPrincipal` (no person: no role, not staff);
`request.auth` is the IntegrationToken. Put this class before JWTAuthentication,
which would otherwise try to read the token as a JWT and refuse it.
"""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from apps.integrations.models import INTEGRATION_TOKEN_PREFIX, IntegrationToken


class IntegrationPrincipal:
    """Who a request made with an integration token is: the token's name, with no role."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    role = None

    def __init__(self, token: IntegrationToken) -> None:
        self.token = token
        self.pk = None
        self.id = None
        self.username = f"integration:{token.name}"

    def get_username(self) -> str:
        return self.username

    def __str__(self) -> str:
        return self.username


class IntegrationTokenAuthentication(BaseAuthentication):
    """`Authorization: Bearer cci_…`; any other credential is left to the next class."""

    def authenticate(self, request: Request) -> tuple[Any, IntegrationToken] | None:
        from apps.integrations.tokens import integration_token_authenticate

        parts = get_authorization_header(request).split()
        if len(parts) != 2 or parts[0].lower() != b"bearer":
            return None
        try:
            raw = parts[1].decode()
        except UnicodeDecodeError:
            return None
        if not raw.startswith(INTEGRATION_TOKEN_PREFIX):
            return None
        token = integration_token_authenticate(raw)
        if token is None:
            raise exceptions.AuthenticationFailed(code="auth.token_invalid")
        return IntegrationPrincipal(token), token

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


def requires_scope(scope: str) -> type[BasePermission]:
    """A permission class: the request carries an integration token with `scope`."""

    class HasScope(BasePermission):
        def has_permission(self, request: Request, view: Any) -> bool:
            token = request.auth
            return isinstance(token, IntegrationToken) and token.has_scope(scope)

    HasScope.__name__ = f"HasScope_{scope.replace('.', '_')}"
    return HasScope
