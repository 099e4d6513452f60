from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts.audit import audit_record
from apps.accounts.models import AuditEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def entries(admin_user: Any, viewer_user: Any) -> None:
    audit_record(actor=admin_user, action="user.create", target=viewer_user)
    audit_record(actor=viewer_user, action="preferences.update", target=viewer_user)
    old = audit_record(actor=admin_user, action="settings.update")
    AuditEntry.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=3))


def test_it_is_for_admins_only(operator_api: APIClient, viewer_api: APIClient) -> None:
    assert operator_api.get("/api/v1/audit").status_code == 403
    assert viewer_api.get("/api/v1/audit").status_code == 403


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("actor=admin", {"user.create", "settings.update"}),
        ("action=preferences.update", {"preferences.update"}),
        ("action_prefix=user.", {"user.create"}),
        ("target_type=accounts.user", {"user.create", "preferences.update"}),
        ("since={since}", {"user.create", "preferences.update"}),
        ("until={since}", {"settings.update"}),
    ],
)
def test_it_filters(admin_api: APIClient, entries: None, query: str, expected: set[str]) -> None:
    since = (timezone.now() - timedelta(days=1)).isoformat().replace("+00:00", "Z")
    items = admin_api.get(f"/api/v1/audit?{query.format(since=since)}").json()["items"]
    assert {item["action"] for item in items} == expected


def test_a_bad_filter_value_is_a_400(admin_api: APIClient) -> None:
    response = admin_api.get("/api/v1/audit?since=yesterday")
    assert response.status_code == 400
    assert response.json()["error"]["params"]["field"] == "since"


def test_the_audit_log_cannot_be_written_through_the_api(admin_api: APIClient) -> None:
    assert admin_api.post("/api/v1/audit", {}, format="json").status_code == 405


@pytest.mark.parametrize("value", ["99999999999999999999", "0", "-3", "1.5"])
def test_an_out_of_range_id_filter_is_a_400_not_a_500(admin_api: APIClient, value: str) -> None:
    response = admin_api.get(f"/api/v1/audit?actor_id={value}")
    assert response.status_code == 400
    assert response.json()["error"]["params"]["field"] == "actor_id"
