"""Owncast's /api/admin/* routes, included under both bases by apps.owncast.urls.

Each view subclasses apps.owncast.views.base.OwncastAdminView: `self.stream` is the
stream of the request's base, authenticated by its ingest key.
"""

from typing import Any

urlpatterns: list[Any] = []
