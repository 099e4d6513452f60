from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from apps.accounts.models import AuditEntry, User
from apps.accounts.roles import Role

pytestmark = pytest.mark.django_db


def test_createsuperuser_makes_an_admin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-long-admin-pass-42")
    call_command(
        "createsuperuser", "--noinput", username="root", email="r@example.com", stdout=StringIO()
    )
    user = User.objects.get(username="root")
    assert user.role == Role.ADMIN and user.is_staff


def test_an_admin_creates_a_user_with_a_role(admin_api: APIClient) -> None:
    response = admin_api.post(
        "/api/v1/users",
        {"username": "op", "password": "a-long-pass-1234", "role": "operator"},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["role"] == "operator" and "password" not in body
    assert User.objects.get(username="op").check_password("a-long-pass-1234")


def test_the_creation_is_in_the_audit_log(admin_api: APIClient, admin_user: Any) -> None:
    admin_api.post(
        "/api/v1/users", {"username": "op", "password": "a-long-pass-1234"}, format="json"
    )
    entries = admin_api.get("/api/v1/audit?action=user.create").json()["items"]
    assert len(entries) == 1
    entry = entries[0]
    assert entry["actor"] == "admin" and entry["target_repr"] == "op" and entry["ip"] == "127.0.0.1"
    assert entry["changes"]["username"] == [None, "op"]
    assert "a-long-pass-1234" not in str(AuditEntry.objects.values_list("changes", flat=True)[::1])


def test_a_viewer_cannot_create_users(viewer_api: APIClient) -> None:
    response = viewer_api.post(
        "/api/v1/users", {"username": "x", "password": "a-long-pass-1234"}, format="json"
    )
    assert response.status_code == 403
    assert not User.objects.filter(username="x").exists()


def test_an_operator_cannot_list_users(operator_api: APIClient) -> None:
    assert operator_api.get("/api/v1/users").status_code == 403


def test_a_weak_password_is_refused_with_codes(admin_api: APIClient) -> None:
    response = admin_api.post(
        "/api/v1/users", {"username": "weak", "password": "12345678"}, format="json"
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["params"]["field"] == "password"
    assert "password_too_short" in error["params"]["codes"]
    assert not User.objects.filter(username="weak").exists()


def test_a_duplicate_username_is_a_conflict(admin_api: APIClient, viewer_user: Any) -> None:
    response = admin_api.post(
        "/api/v1/users", {"username": "VIEWER", "password": "a-long-pass-1234"}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "user.username_taken"


def test_an_unknown_role_is_refused(admin_api: APIClient) -> None:
    response = admin_api.post(
        "/api/v1/users",
        {"username": "x", "password": "a-long-pass-1234", "role": "god"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation.invalid_choice"
    assert response.json()["error"]["params"]["allowed"] == ["admin", "operator", "viewer"]


def test_changing_a_role_is_audited_with_old_and_new(
    admin_api: APIClient, viewer_user: Any
) -> None:
    response = admin_api.patch(
        f"/api/v1/users/{viewer_user.pk}", {"role": "operator"}, format="json"
    )
    assert response.status_code == 200 and response.json()["role"] == "operator"
    entry = AuditEntry.objects.get(action="user.update")
    assert entry.changes == {"role": ["viewer", "operator"]}


def test_a_password_change_is_audited_masked(admin_api: APIClient, viewer_user: Any) -> None:
    admin_api.patch(
        f"/api/v1/users/{viewer_user.pk}", {"password": "new-long-pass-987"}, format="json"
    )
    entry = AuditEntry.objects.get(action="user.update")
    assert entry.changes == {"password": ["••••", "••••"]}


def test_the_last_admin_cannot_be_demoted(admin_api: APIClient, admin_user: Any) -> None:
    response = admin_api.patch(f"/api/v1/users/{admin_user.pk}", {"role": "viewer"}, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "user.last_admin"
    admin_user.refresh_from_db()
    assert admin_user.role == Role.ADMIN


def test_an_admin_deletes_a_user(admin_api: APIClient, viewer_user: Any) -> None:
    assert admin_api.delete(f"/api/v1/users/{viewer_user.pk}").status_code == 204
    assert not User.objects.filter(pk=viewer_user.pk).exists()
    assert AuditEntry.objects.filter(action="user.delete", target_id=str(viewer_user.pk)).exists()


def test_roles_are_listed_for_any_user(viewer_api: APIClient) -> None:
    roles = viewer_api.get("/api/v1/roles").json()
    assert [role["id"] for role in roles] == ["admin", "operator", "viewer"]


def test_names_are_accepted_on_create(admin_api: APIClient) -> None:
    response = admin_api.post(
        "/api/v1/users",
        {
            "username": "ann",
            "password": "a-long-pass-1234",
            "first_name": "Ann",
            "last_name": "Lee",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    assert User.objects.get(username="ann").get_full_name() == "Ann Lee"
