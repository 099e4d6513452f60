"""The channels admin: every page opens; writes go through the services and their checks."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from apps.accounts.models import AuditEntry
from apps.channels.models import Channel

pytestmark = pytest.mark.django_db

MODELS = ("playlist", "channel", "scheduleblock", "playoutrow")


@pytest.fixture
def admin_client_(admin_user: Any) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


def test_every_model_has_an_admin_page(admin_client_: Client) -> None:
    Channel.objects.create(number=1, name="One", slug="one")
    for model in MODELS:
        assert admin_client_.get(f"/admin/castcore_channels/{model}/").status_code == 200, model
    for model in ("playlist", "channel", "scheduleblock"):
        assert admin_client_.get(f"/admin/castcore_channels/{model}/add/").status_code == 200
    assert admin_client_.get("/admin/castcore_channels/channel/1/change/").status_code == 200


def _add_channel(client: Client, **fields: Any) -> Any:
    body = {
        "number": 4, "name": "Four", "slug": "four", "time_zone": "Europe/Paris",
        "visibility": "public", "mode": "always_on", "enabled": "on", "group": "",
        "outputs-TOTAL_FORMS": "0", "outputs-INITIAL_FORMS": "0", **fields,
    }  # fmt: skip
    return client.post("/admin/castcore_channels/channel/add/", body)


def test_a_channel_added_in_the_admin_is_checked_and_audited(admin_client_: Client) -> None:
    response = _add_channel(admin_client_, time_zone="Nowhere/Atlantis")
    assert response.status_code == 200 and b"channel.invalid_time_zone" in response.content
    assert not Channel.objects.exists()
    response = _add_channel(admin_client_)
    assert response.status_code == 302, response.content[:2000]
    assert Channel.objects.get().time_zone == "Europe/Paris"
    assert AuditEntry.objects.filter(action="channel.create").exists()
    response = _add_channel(admin_client_, slug="other")
    assert response.status_code == 200 and b"channel.number_taken" in response.content
