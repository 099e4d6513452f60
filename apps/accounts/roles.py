"""The three roles and their order: Viewer reads, Operator operates, Admin administers."""

from __future__ import annotations

from typing import Any

from django.db import models


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    OPERATOR = "operator", "Operator"
    VIEWER = "viewer", "Viewer"


_RANK = {Role.VIEWER: 0, Role.OPERATOR: 1, Role.ADMIN: 2}

ROLE_DESCRIPTIONS = {
    Role.ADMIN: "Manages users, global settings, storage and every resource; reads the audit log.",
    Role.OPERATOR: "Creates and controls stream jobs, channels, media and recordings.",
    Role.VIEWER: "Reads everything they may see; changes only their own preferences and tokens.",
}


def role_at_least(user: Any, required: Role | str) -> bool:
    """True when an authenticated, active user's role ranks at or above `required`."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return _RANK[Role(user.role)] >= _RANK[Role(required)]
