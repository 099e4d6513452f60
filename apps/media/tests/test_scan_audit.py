"""Starting a scan is audited once, as `media_scan.start` on the source, whoever starts it."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from apps.accounts.commands import unix_user_name
from apps.accounts.models import AuditEntry
from apps.media.models import MediaScan, StorageSource
from apps.media.tests.factories import make_source

pytestmark = pytest.mark.django_db


@pytest.fixture
def source(tmp_path: Path) -> StorageSource:
    folder = tmp_path / "empty library"  # nothing to probe: the scan ends at once
    folder.mkdir()
    return make_source(name="Studio NAS", path=str(folder))


def entries_for(source: StorageSource) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(target_id=str(source.pk)).order_by("id"))


def test_a_scan_started_through_the_api_is_audited_as_api_by_its_caller(
    operator_api: Any, operator_user: Any, source: StorageSource
) -> None:
    response = operator_api.post(f"/api/v1/storage-sources/{source.pk}/scan", {"full": True})
    assert response.status_code == 202
    [entry] = entries_for(source)  # the service's entry, not the middleware's generic one
    assert entry.action == "media_scan.start"
    assert entry.source == AuditEntry.Source.API
    assert (entry.actor_id, entry.actor_repr) == (operator_user.pk, "operator")
    assert (entry.target_type, entry.target_repr) == ("media.storagesource", str(source))
    assert entry.changes == {"scan": [None, response.json()["id"]], "full": [None, True]}
    assert entry.ip == "127.0.0.1"


def test_a_refused_scan_start_is_not_audited(operator_api: Any, source: StorageSource) -> None:
    assert operator_api.post(f"/api/v1/storage-sources/{source.pk}/scan").status_code == 202
    assert operator_api.post(f"/api/v1/storage-sources/{source.pk}/scan").status_code == 409
    assert [e.action for e in entries_for(source)] == ["media_scan.start"]


def test_scan_media_is_audited_as_cli_under_the_unix_user(source: StorageSource) -> None:
    call_command("scan_media", "Studio NAS", stdout=io.StringIO())
    [entry] = entries_for(source)
    scan = MediaScan.objects.get(source=source)
    assert (entry.action, entry.source) == ("media_scan.start", AuditEntry.Source.CLI)
    assert (entry.actor_id, entry.actor_repr) == (None, f"unix:{unix_user_name()}")
    assert entry.changes == {"scan": [None, scan.pk], "full": [None, False]}


def test_scan_media_as_an_account_is_audited_as_that_account(
    admin_user: Any, source: StorageSource
) -> None:
    call_command("scan_media", str(source.pk), "--full", "--as", "admin", stdout=io.StringIO())
    [entry] = entries_for(source)
    assert (entry.action, entry.source) == ("media_scan.start", AuditEntry.Source.CLI)
    assert (entry.actor_id, entry.actor_repr) == (admin_user.pk, "admin")
    assert entry.changes["full"] == [None, True]


def test_the_admins_scan_now_is_audited_as_admin(admin_user: Any, source: StorageSource) -> None:
    client = Client()
    client.force_login(admin_user)
    response = client.post(
        "/admin/media/storagesource/", {"action": "scan_now", "_selected_action": [source.pk]}
    )
    assert response.status_code == 302
    started = AuditEntry.objects.get(action="media_scan.start")
    assert (started.source, started.actor_id) == (AuditEntry.Source.ADMIN, admin_user.pk)
    assert started.target_id == str(source.pk)
