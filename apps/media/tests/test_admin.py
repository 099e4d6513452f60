"""The admin's "Scan now" action on storage sources."""

from __future__ import annotations

import json
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


def _change_data(source: Any, **changes: Any) -> dict[str, Any]:
    from django.forms.models import model_to_dict

    data = {k: v for k, v in model_to_dict(source).items() if v is not None}
    # JSON fields are edited as JSON text.
    data.update({k: json.dumps(v) for k, v in data.items() if isinstance(v, dict | list)})
    return {**data, **changes}


def test_the_admin_refuses_a_local_folder_it_cannot_list(admin_user: Any, tmp_path: Any) -> None:
    client = Client()
    client.force_login(admin_user)
    source = make_source(path=str(tmp_path))
    gone = str(tmp_path / "gone")
    response = client.post(
        f"/admin/media/storagesource/{source.pk}/change/", _change_data(source, path=gone)
    )
    assert response.status_code == 200 and "storage.not_found" in response.content.decode()
    source.refresh_from_db()
    assert source.path == str(tmp_path)
    # The same form with a folder that is there saves.
    ok = client.post(
        f"/admin/media/storagesource/{source.pk}/change/",
        _change_data(source, path=str(tmp_path), name="renamed"),
    )
    assert ok.status_code == 302, ok.content.decode()[:3000]
