"""Walks every URL pattern under /api/v1/ and checks access rules on each method.

Endpoints added later are covered without new code. A view opts out only by
declaring it (castcore.api.permissions): `public_methods` for what anonymous
clients may call, `write_role = Role.VIEWER` (or `action_roles`) for
self-service mutations, `compat_api = True` for peer APIs with their own
error shape (only the status code is checked there).
"""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.accounts.roles import Role
from castcore.tests import url_walk

pytestmark = pytest.mark.django_db

UNSAFE = ("POST", "PUT", "PATCH", "DELETE")


def _is_public(callback: Any, method: str) -> bool:
    return method in getattr(url_walk.view_class(callback), "public_methods", set())


def _viewer_may(callback: Any, method: str) -> bool:
    view_class = url_walk.view_class(callback)
    actions = getattr(callback, "actions", None) or {}
    action = actions.get(method.lower())
    role = getattr(view_class, "action_roles", {}).get(action) or getattr(
        view_class, "write_role", Role.OPERATOR
    )
    return Role(str(role)) == Role.VIEWER


def _compat(callback: Any) -> bool:
    return bool(getattr(url_walk.view_class(callback), "compat_api", False))


def api_endpoints() -> list[tuple[Any, str, str]]:
    found = []
    for route, pattern in url_walk.walk():
        path = "/" + url_walk.sample_path(route)
        if not path.startswith("/api/") or url_walk.view_class(pattern.callback) is None:
            continue
        for method in sorted(url_walk.methods(pattern.callback)):
            found.append((pattern.callback, method, path))
    return found


ENDPOINTS = api_endpoints()


def test_the_walk_finds_the_api() -> None:
    paths = {path for _, _, path in ENDPOINTS}
    assert {
        "/api/v1/users",
        "/api/v1/users/1",
        "/api/v1/auth/me",
        "/api/v1/settings",
        "/api/v1/audit",
    } <= paths


@pytest.mark.parametrize(
    ("view", "method", "path"), ENDPOINTS, ids=[f"{m} {p}" for _, m, p in ENDPOINTS]
)
def test_anonymous_requests_get_401(api: APIClient, view: Any, method: str, path: str) -> None:
    if _is_public(view, method):
        pytest.skip("public by design")
    response = api.generic(method, path, data="{}", content_type="application/json")
    assert response.status_code == 401, (method, path, response.content[:200])
    if not _compat(view):
        assert response.json()["error"]["code"].startswith("auth.")


@pytest.mark.parametrize(
    ("view", "method", "path"),
    [e for e in ENDPOINTS if e[1] in UNSAFE],
    ids=[f"{m} {p}" for _, m, p in ENDPOINTS if m in UNSAFE],
)
def test_viewers_get_403_on_mutations(
    viewer_api: APIClient, view: Any, method: str, path: str
) -> None:
    if _is_public(view, method) or _viewer_may(view, method) or _compat(view):
        pytest.skip("public, self-service or a peer API with its own auth")
    response = viewer_api.generic(method, path, data="{}", content_type="application/json")
    assert response.status_code == 403, (method, path, response.content[:200])
    assert response.json()["error"]["code"].startswith("permission.")
