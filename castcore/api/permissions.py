"""RBAC in one place: every native endpoint gets it through RolePermission.

A view states the role each kind of request needs:
- `read_role` for GET/HEAD/OPTIONS (default Viewer),
- `write_role` for other methods (default Operator),
- `action_roles` for named viewset actions (e.g. {"start": Role.OPERATOR}).
Self-service endpoints (own preferences, own tokens) set `write_role = Role.VIEWER`;
anonymous ones (login) set `permission_classes = [AllowAny]` AND declare
`public_methods = {"POST"}` so the RBAC walk test knows it is deliberate.
Peer-compatible endpoints (asciinema, Owncast, OpenVidu) set `compat_api = True`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rest_framework import exceptions
from rest_framework.permissions import SAFE_METHODS, BasePermission

if TYPE_CHECKING:  # DRF imports this module while rest_framework.views loads
    from rest_framework.request import Request
    from rest_framework.views import APIView

from apps.accounts.models import ApiToken
from apps.accounts.roles import Role, role_at_least


def required_role(view: APIView, request: Request) -> Role:
    action = getattr(view, "action", None)
    action_roles: dict[str, Role] = getattr(view, "action_roles", {})
    if action in action_roles:
        return action_roles[action]
    if request.method in SAFE_METHODS:
        return Role(getattr(view, "read_role", Role.VIEWER))
    return Role(getattr(view, "write_role", Role.OPERATOR))


class RolePermission(BasePermission):
    def has_permission(self, request: Request, view: APIView) -> bool:
        user: Any = request.user
        if not user or not user.is_authenticated:
            return False  # DRF answers 401, since authentication was possible
        if not role_at_least(user, required_role(view, request)):
            return False
        if (
            request.method not in SAFE_METHODS
            and isinstance(request.auth, ApiToken)
            and request.auth.read_only
        ):
            raise exceptions.PermissionDenied(code="permission.token_read_only")
        return True
