"""Template context every page of the viewer site gets."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from apps.accounts.roles import Role, role_at_least


def _site_name() -> str:
    from apps.system.models import GlobalSettings

    return GlobalSettings.load().site_name or "CastCore"


def site(request: HttpRequest) -> dict[str, Any]:
    """The instance name (an Admin sets it in the global settings) and what the user may open.

    Lazy: a page that does not show the name does not read the settings row.
    """
    user = getattr(request, "user", None)
    return {
        "site_name": SimpleLazyObject(_site_name),
        # The Django admin lets in staff (Admins); the API docs serve whoever runs things.
        "can_admin": bool(user is not None and user.is_active and user.is_staff),
        "can_operate": role_at_least(user, Role.OPERATOR),
    }
