from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.accounts.models import AuditEntry

pytestmark = pytest.mark.django_db


def login(api: APIClient, username: str, password: str) -> Any:
    return api.post(
        "/api/v1/auth/login", {"username": username, "password": password}, format="json"
    )


def test_it_returns_an_access_and_a_refresh_token(
    api: APIClient, viewer_user: Any, password: str
) -> None:
    response = login(api, "viewer", password)
    assert response.status_code == 200
    body = response.json()
    assert body["result"] == "ok" and body["access"] and body["refresh"]
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {body['access']}")
    me = api.get("/api/v1/auth/me").json()
    assert (me["username"], me["role"]) == ("viewer", "viewer")


def test_it_rejects_a_wrong_password(api: APIClient, viewer_user: Any) -> None:
    response = login(api, "viewer", "wrong-password")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "auth.invalid_credentials"


def test_it_rejects_an_inactive_user(api: APIClient, viewer_user: Any, password: str) -> None:
    viewer_user.is_active = False
    viewer_user.save()
    assert login(api, "viewer", password).status_code == 401


def test_refresh_gives_a_new_access_token(api: APIClient, viewer_user: Any, password: str) -> None:
    refresh = login(api, "viewer", password).json()["refresh"]
    response = api.post("/api/v1/auth/refresh", {"refresh": refresh}, format="json")
    assert response.status_code == 200
    assert response.json()["access"]


def test_logout_makes_the_refresh_token_stop_working(
    api: APIClient, viewer_user: Any, password: str
) -> None:
    tokens = login(api, "viewer", password).json()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    assert (
        api.post("/api/v1/auth/logout", {"refresh": tokens["refresh"]}, format="json").status_code
        == 204
    )
    api.credentials()
    response = api.post("/api/v1/auth/refresh", {"refresh": tokens["refresh"]}, format="json")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "auth.token_invalid"


def test_a_user_cannot_log_out_someone_elses_refresh_token(
    api: APIClient, viewer_user: Any, operator_api: APIClient, password: str
) -> None:
    refresh = login(api, "viewer", password).json()["refresh"]
    response = operator_api.post("/api/v1/auth/logout", {"refresh": refresh}, format="json")
    assert response.status_code == 401
    assert api.post("/api/v1/auth/refresh", {"refresh": refresh}, format="json").status_code == 200


def test_a_refresh_token_is_not_an_access_token(
    api: APIClient, viewer_user: Any, password: str
) -> None:
    refresh = login(api, "viewer", password).json()["refresh"]
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {refresh}")
    assert api.get("/api/v1/auth/me").status_code == 401


def test_login_is_audited_with_the_ip(api: APIClient, viewer_user: Any, password: str) -> None:
    login(api, "viewer", password)
    entry = AuditEntry.objects.get(action="auth.login")
    assert entry.actor == viewer_user and entry.ip == "127.0.0.1"


def test_login_sets_last_login(api: APIClient, viewer_user: Any, password: str) -> None:
    assert viewer_user.last_login is None
    login(api, "viewer", password)
    viewer_user.refresh_from_db()
    assert viewer_user.last_login is not None
