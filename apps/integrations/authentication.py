"""`Authorization: Bearer cci_…` for bots and services, and the scope check that goes with it.

For other apps' views (the chat API, the Owncast surface):

    authentication_classes = TOKEN_OR_USER_AUTHENTICATION
    permission_classes = [ScopeOrRolePermission]
    token_scopes = {"GET": Scope.READ, "POST": Scope.CHAT_SEND}  # per method

or, for one scope on a whole view, `permission_classes = [requires_scope(…) | RolePermission]`.

A token authenticates as an `IntegrationPrincipal` (no person: no role, not staff);
`request.auth` is the IntegrationToken. Put this class before JWTAuthentication,
which would otherwise try to read the token as a JWT and refuse it.
"""

from __future__ import annotations

from typing import Any, cast

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.settings import api_settings

from apps.integrations.models import INTEGRATION_TOKEN_PREFIX, IntegrationToken
from castcore.api.authentication import Principal
from castcore.api.errors import ApiError
from castcore.api.permissions import RolePermission


class IntegrationPrincipal(Principal):
    """Who a request made with an integration token is: the token's name, with no role."""

    def __init__(self, token: IntegrationToken) -> None:
        super().__init__(f"integration:{token.name}")
        self.token = token


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


class IntegrationTokenScheme(OpenApiAuthenticationExtension):
    target_class = IntegrationTokenAuthentication
    name = "integrationToken"

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "Integration access token with scopes: `Authorization: Bearer cci_…`",
        }


def requires_scope(scope: str) -> type[BasePermission]:
    """A permission class: the request carries an integration token with `scope`."""

    class HasScope(BasePermission):
        def has_permission(self, request: Request, view: Any) -> bool:
            token = request.auth
            return isinstance(token, IntegrationToken) and token.has_scope(scope)

    HasScope.__name__ = f"HasScope_{scope.replace('.', '_')}"
    return HasScope


#: A view that takes integration tokens besides users' credentials (JWT, cc_ tokens).
TOKEN_OR_USER_AUTHENTICATION: list[type[BaseAuthentication]] = [
    IntegrationTokenAuthentication,
    # DRF resolves the setting's dotted paths to classes.
    *cast(list[type[BaseAuthentication]], api_settings.DEFAULT_AUTHENTICATION_CLASSES),
]


def integration_token_of(request: Request) -> IntegrationToken | None:
    """The integration token the request authenticated with, or None (a user, anonymous)."""
    token = getattr(request, "auth", None)
    return token if isinstance(token, IntegrationToken) else None


class ScopeOrRolePermission(BasePermission):
    """An integration token needs the scope the view names for the request's method in
    `token_scopes` (a method it does not name is refused); anyone else, the view's role
    (RolePermission). A refusal is 403 `permission.scope_missing` with the scope needed."""

    def has_permission(self, request: Request, view: Any) -> bool:
        token = integration_token_of(request)
        if token is None:
            return RolePermission().has_permission(request, view)
        method = "GET" if request.method in ("HEAD", "OPTIONS") else request.method
        scope = getattr(view, "token_scopes", {}).get(method)
        if scope is None or not token.has_scope(scope):
            raise ApiError("permission.scope_missing", {"scope": scope}, status_code=403)
        return True
