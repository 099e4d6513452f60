"""Stream key accounts through /platforms: the key is write-only and masked."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.accounts.models import AuditEntry
from apps.integrations.platforms.models import PlatformAccount

pytestmark = pytest.mark.django_db
KEY = "live_123456_abcdefghijklmnop"


def _create(api: APIClient, **body: object) -> Any:
    return api.post(
        "/api/v1/platforms",
        {"name": "Twitch main", "platform": "twitch", "stream_key": KEY, **body},
        format="json",
    )


def test_a_stream_key_account_takes_the_platform_server_and_masks_the_key(
    admin_api: APIClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    response = _create(admin_api)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["kind"] == "stream_key" and body["ingest_url"] == "rtmp://live.twitch.tv/app"
    assert body["stream_key"] == "••••mnop"
    assert KEY not in admin_api.get(f"/api/v1/platforms/{body['id']}").content.decode()
    assert KEY not in str(list(AuditEntry.objects.values("changes")))
    assert KEY not in "\n".join(r.getMessage() for r in caplog.records)
    assert PlatformAccount.objects.get().stream_key == KEY


def test_sending_back_the_masked_key_keeps_the_stored_one(admin_api: APIClient) -> None:
    account = _create(admin_api).json()
    admin_api.patch(
        f"/api/v1/platforms/{account['id']}", {"stream_key": account["stream_key"], "name": "b"}
    )
    assert PlatformAccount.objects.get().stream_key == KEY


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"ingest_url": "http://example.com/x"}, "ingest_url"),
        ({"ingest_url": "rtmp://user:pw@example.com/app"}, "ingest_url"),
        ({"platform": "custom_srt", "ingest_url": "rtmp://example.com/app"}, "ingest_url"),
        ({"stream_key": ""}, "stream_key"),
    ],
)
def test_bad_accounts_are_refused_with_the_field_named(
    admin_api: APIClient, body: dict[str, object], field: str
) -> None:
    response = _create(admin_api, **body)
    assert response.status_code == 400
    assert field in str(response.json()["error"]["params"])
    assert not PlatformAccount.objects.exists()


def test_an_unknown_platform_names_the_allowed_ones(admin_api: APIClient) -> None:
    response = _create(admin_api, platform="myspace")
    assert response.json()["error"]["code"] == "validation.invalid_choice"
    assert "youtube" in response.json()["error"]["params"]["allowed"]


def test_the_test_of_a_stream_key_account_says_it_is_unverified(admin_api: APIClient) -> None:
    account = _create(admin_api).json()
    response = admin_api.post(f"/api/v1/platform-accounts/{account['id']}/test")
    assert response.json() == {"ok": True, "code": "platform.ok_unverified"}


def test_operators_read_accounts_but_cannot_write_them(
    operator_api: APIClient, admin_api: APIClient
) -> None:
    _create(admin_api)
    assert operator_api.get("/api/v1/platforms").json()["total"] == 1
    assert _create(operator_api).status_code == 403


def test_the_catalogue_lists_every_platform_with_its_rules(
    viewer_api: APIClient, operator_api: APIClient
) -> None:
    assert viewer_api.get("/api/v1/platforms/catalogue").status_code == 403
    body = operator_api.get("/api/v1/platforms/catalogue").json()
    twitch = next(p for p in body if p["type"] == "twitch")
    assert twitch["oauth"] is True and twitch["rules"]["keyframe_interval_s"] == 2.0
    assert {p["type"] for p in body} >= {"youtube", "facebook", "kick", "custom_srt"}
