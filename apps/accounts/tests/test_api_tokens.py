import secrets
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts.models import ApiToken
from apps.accounts.services import hash_secret

pytestmark = pytest.mark.django_db


def create_token(client: APIClient, **extra: Any) -> dict[str, Any]:
    response = client.post("/api/v1/tokens", {"name": "ci", **extra}, format="json")
    assert response.status_code == 201, response.content
    return dict(response.json())


def bearer(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def test_the_token_is_shown_once_and_stored_only_as_a_hash(viewer_api: APIClient) -> None:
    raw = create_token(viewer_api)["token"]
    assert raw.startswith("cc_") and len(raw) > 40
    row = ApiToken.objects.get()
    assert row.token_hash == hash_secret(raw)
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM accounts_apitoken")
        assert raw not in repr(cursor.fetchall())
    listed = viewer_api.get("/api/v1/tokens").json()["items"][0]
    assert listed["token"] == "cc_••••" + raw[-4:]
    assert raw not in str(viewer_api.get(f"/api/v1/tokens/{row.pk}").json())


def test_a_token_authenticates_api_calls(viewer_api: APIClient, viewer_user: Any) -> None:
    raw = create_token(viewer_api)["token"]
    me = bearer(raw).get("/api/v1/auth/me")
    assert me.status_code == 200 and me.json()["username"] == viewer_user.username
    assert ApiToken.objects.get().last_used_at is not None


def test_a_revoked_token_stops_working(viewer_api: APIClient) -> None:
    created = create_token(viewer_api)
    assert viewer_api.delete(f"/api/v1/tokens/{created['id']}").status_code == 204
    response = bearer(created["token"]).get("/api/v1/auth/me")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "auth.token_invalid"
    assert viewer_api.get(f"/api/v1/tokens/{created['id']}").json()["revoked"] is True


def test_an_expired_token_stops_working(viewer_api: APIClient) -> None:
    created = create_token(viewer_api, expires_at=(timezone.now() + timedelta(hours=1)).isoformat())
    ApiToken.objects.filter(pk=created["id"]).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert bearer(created["token"]).get("/api/v1/auth/me").status_code == 401


def test_an_expiry_in_the_past_is_refused(viewer_api: APIClient) -> None:
    response = viewer_api.post(
        "/api/v1/tokens", {"name": "x", "expires_at": "2000-01-01T00:00:00Z"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "validation.expires_in_past",
        "params": {"field": "expires_at"},
        "level": "error",
    }


def test_a_read_only_token_cannot_mutate(admin_api: APIClient) -> None:
    raw = create_token(admin_api, read_only=True)["token"]
    client = bearer(raw)
    assert client.get("/api/v1/users").status_code == 200
    response = client.post(
        "/api/v1/users", {"username": "new", "password": "a-long-pass-1234"}, format="json"
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission.token_read_only"


def test_a_token_of_a_deactivated_user_stops_working(
    viewer_api: APIClient, viewer_user: Any
) -> None:
    raw = create_token(viewer_api)["token"]
    viewer_user.is_active = False
    viewer_user.save()
    assert bearer(raw).get("/api/v1/auth/me").status_code == 401


def test_users_see_only_their_own_tokens(viewer_api: APIClient, operator_api: APIClient) -> None:
    created = create_token(viewer_api)
    assert operator_api.get("/api/v1/tokens").json()["total"] == 0
    assert operator_api.get(f"/api/v1/tokens/{created['id']}").status_code == 404
    assert operator_api.delete(f"/api/v1/tokens/{created['id']}").status_code == 404


def test_an_unknown_cc_token_is_rejected(api: APIClient) -> None:
    response = bearer("cc_" + "x" * 43).get("/api/v1/auth/me")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "auth.token_invalid"


def test_a_presented_token_is_registered_for_redaction_only_once_it_matches(
    viewer_user: Any,
) -> None:
    from castcore.secrets import redact

    real = "cc_" + "p" * 40
    ApiToken.objects.create(user=viewer_user, name="ci", token_hash=hash_secret(real), last4="pppp")
    wrong = "cc_" + secrets.token_urlsafe(24)  # random: no other test registered a part of it
    assert bearer(wrong).get("/api/v1/tokens").status_code == 401
    assert redact(wrong) == wrong  # spam takes no place in the bounded registry
    assert redact(real) == real
    assert bearer(real).get("/api/v1/tokens").status_code == 200
    assert real not in redact(f"with {real} in it")
