"""API routes of this app, mounted under /api/v1/ by castcore.urls."""

from typing import Any

urlpatterns: list[Any] = []
