"""The admin's "Scan now" action on storage sources."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from apps.accounts.models import AuditEntry
from apps.media.models import MediaScan
from apps.media.tests.factories import make_source

pytestmark = pytest.mark.django_db


def test_scan_now_queues_one_scan_per_source(admin_user: Any) -> None:
    client = Client()
    client.force_login(admin_user)
    sources = [make_source(), make_source()]
    response = client.post(
        "/admin/media/storagesource/",
        {"action": "scan_now", "_selected_action": [s.pk for s in sources]},
    )
    assert response.status_code == 302
    assert MediaScan.objects.filter(state="queued").count() == 2
    assert AuditEntry.objects.filter(action="storagesource.action.scan_now").exists()
    # A second click while they are queued changes nothing.
    client.post(
        "/admin/media/storagesource/", {"action": "scan_now", "_selected_action": [sources[0].pk]}
    )
    assert MediaScan.objects.count() == 2


def test_every_model_has_an_admin_page(admin_user: Any) -> None:
    client = Client()
    client.force_login(admin_user)
    for model in ("storagesource", "mediascan", "mediaitem", "asset"):
        assert client.get(f"/admin/media/{model}/").status_code == 200, model
    source = make_source(password="smb-secret-value")
    page = client.get(f"/admin/media/storagesource/{source.pk}/change/").content.decode()
    assert "smb-secret-value" not in page
