import pytest
from rest_framework.test import APIClient

from apps.accounts.models import AuditEntry

pytestmark = pytest.mark.django_db


def test_any_user_reads_and_changes_their_own_preferences(viewer_api: APIClient) -> None:
    assert viewer_api.get("/api/v1/settings/me").json()["theme"] == "system"
    response = viewer_api.patch(
        "/api/v1/settings/me", {"theme": "dark", "timezone": "Europe/Berlin"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["theme"] == "dark"
    assert AuditEntry.objects.get(action="preferences.update").changes["theme"] == [
        "system",
        "dark",
    ]


def test_an_unknown_time_zone_is_refused(viewer_api: APIClient) -> None:
    response = viewer_api.patch("/api/v1/settings/me", {"timezone": "Mars/Olympus"}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["params"]["field"] == "timezone"


def test_preferences_are_per_user(viewer_api: APIClient, operator_api: APIClient) -> None:
    viewer_api.patch("/api/v1/settings/me", {"theme": "dark"}, format="json")
    assert operator_api.get("/api/v1/settings/me").json()["theme"] == "system"


def test_global_settings_are_for_admins(
    admin_api: APIClient, operator_api: APIClient, viewer_api: APIClient
) -> None:
    assert operator_api.get("/api/v1/settings").status_code == 403
    assert (
        viewer_api.patch("/api/v1/settings", {"site_name": "x"}, format="json").status_code == 403
    )
    response = admin_api.patch("/api/v1/settings", {"site_name": "Studio"}, format="json")
    assert response.status_code == 200 and response.json()["site_name"] == "Studio"


def test_the_smtp_password_is_write_only_and_masked_in_the_audit(admin_api: APIClient) -> None:
    response = admin_api.patch(
        "/api/v1/settings", {"smtp_password": "mail-password-5678"}, format="json"
    )
    assert response.json()["smtp_password"] == "••••5678"
    assert admin_api.get("/api/v1/settings").json()["smtp_password"] == "••••5678"
    entry = AuditEntry.objects.get(action="settings.update")
    assert entry.changes["smtp_password"] == ["", "••••5678"]


def test_retention_days_must_be_consistent(admin_api: APIClient) -> None:
    response = admin_api.patch(
        "/api/v1/settings",
        {"unclaimed_hide_after_days": 10, "unclaimed_delete_after_days": 5},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation.before_hide"


def test_sending_back_the_masked_secret_keeps_the_stored_one(admin_api: APIClient) -> None:
    from apps.system.models import GlobalSettings

    admin_api.patch("/api/v1/settings", {"smtp_password": "mail-password-5678"}, format="json")
    read_back = admin_api.get("/api/v1/settings").json()
    response = admin_api.patch("/api/v1/settings", read_back, format="json")
    assert response.status_code == 200
    assert GlobalSettings.load().smtp_password == "mail-password-5678"


def test_an_unknown_theme_is_refused_with_the_allowed_choices(viewer_api: APIClient) -> None:
    response = viewer_api.patch("/api/v1/settings/me", {"theme": "neon"}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation.invalid_choice"
    assert error["params"]["field"] == "theme"
    assert error["params"]["allowed"] == ["system", "light", "dark"]
