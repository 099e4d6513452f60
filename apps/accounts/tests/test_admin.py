"""The Django admin: Admins only, 2FA for enrolled users, every change audited."""

from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.accounts.models import AuditEntry, User
from apps.accounts.tests.test_two_factor import _code_at

pytestmark = pytest.mark.django_db


def admin_login(client: Client, username: str, password: str, otp: str = "") -> Any:
    return client.post(
        "/admin/login/?next=/admin/", {"username": username, "password": password, "otp_token": otp}
    )


def test_an_admin_without_2fa_signs_in_with_a_password(
    client: Client, admin_user: Any, password: str
) -> None:
    response = admin_login(client, "admin", password)
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200


def test_operators_and_viewers_cannot_use_the_admin(
    client: Client, operator_user: Any, password: str
) -> None:
    admin_login(client, "operator", password)
    assert client.get("/admin/").status_code == 302  # back to the login page


def test_an_enrolled_admin_needs_the_code(client: Client, admin_user: Any, password: str) -> None:
    device = TOTPDevice.objects.create(user=admin_user, name="default", confirmed=True)
    refused = admin_login(client, "admin", password)
    assert refused.status_code == 200  # the form again, with an error
    assert "authenticator" in refused.content.decode()
    assert client.get("/admin/").status_code == 302

    code = _code_at(device, int(timezone.now().timestamp()))
    assert admin_login(client, "admin", password, code).status_code == 302
    assert client.get("/admin/").status_code == 200


def test_a_session_without_the_second_factor_is_refused(client: Client, admin_user: Any) -> None:
    # Enrolling after signing in does not keep an unverified session in.
    client.force_login(admin_user)
    assert client.get("/admin/").status_code == 200
    TOTPDevice.objects.create(user=admin_user, name="default", confirmed=True)
    assert client.get("/admin/").status_code == 302


def test_admin_changes_are_audited_with_fields(
    client: Client, admin_user: Any, viewer_user: Any
) -> None:
    client.force_login(admin_user)
    response = client.post(
        f"/admin/accounts/user/{viewer_user.pk}/change/",
        {
            "username": "viewer",
            "email": "new@example.com",
            "role": "operator",
            "is_active": "on",
            "first_name": "",
            "last_name": "",
            "last_login_0": "",
            "last_login_1": "",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    entry = AuditEntry.objects.get(action="user.update", source="admin")
    assert entry.changes["role"] == ["viewer", "operator"]
    assert entry.changes["email"] == ["viewer@example.com", "new@example.com"]
    assert User.objects.get(pk=viewer_user.pk).role == "operator"


def test_every_model_of_ours_is_in_the_admin(client: Client, admin_user: Any) -> None:
    from django.apps import apps
    from django.contrib import admin

    ours = [m for m in apps.get_models() if m.__module__.startswith("apps.")]
    # A model edited inline on its parent's page is managed there.
    inlined = {inline.model for ma in admin.site._registry.values() for inline in ma.inlines}
    missing = [m._meta.label for m in ours if m not in admin.site._registry and m not in inlined]
    assert missing == []
