"""Stream key accounts through /platforms: the key is write-only and masked."""

from __future__ import annotations

import logging
from importlib import import_module
from types import SimpleNamespace
from typing import Any

import pytest
from django.apps import apps
from django.db import connection
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
        ({"platform": "custom_srt", "ingest_url": "srt://127.0.0.1:99999"}, "ingest_url"),
        ({"platform": "custom_srt", "ingest_url": "srt://127.0.0.1:0"}, "ingest_url"),
        ({"platform": "custom_rtmp", "ingest_url": "rtmp://exa mple.com/app"}, "ingest_url"),
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


SRT_SECRET = "srt-streamid-secret-0123"
SRT_PASSPHRASE = "srt-passphrase-secret-4567"
SRT_URL = f"srt://127.0.0.1:9000?streamid=publish/live/{SRT_SECRET}&passphrase={SRT_PASSPHRASE}"
PATH_KEY = "key-in-the-path-89abcdef"


@pytest.mark.parametrize(
    ("platform", "url", "secrets"),
    [
        ("custom_srt", SRT_URL, [SRT_SECRET, SRT_PASSPHRASE]),
        ("custom_rtmp", f"rtmp://127.0.0.1/live/{PATH_KEY}", [PATH_KEY]),
    ],
)
def test_an_ingest_url_is_encrypted_and_shown_masked_like_an_outputs(
    admin_api: APIClient, platform: str, url: str, secrets: list[str]
) -> None:
    created = _create(admin_api, platform=platform, ingest_url=url)
    assert created.status_code == 201, created.json()
    account_id = created.json()["id"]
    shown = admin_api.get(f"/api/v1/platforms/{account_id}").json()["ingest_url"]
    assert "••••" in shown and shown.startswith(url.split("?")[0].rsplit("/", 1)[0])
    listed = admin_api.get("/api/v1/platforms").content.decode()
    # Sending the masked URL back keeps the stored one; a new URL replaces it, audited masked.
    kept = admin_api.patch(
        f"/api/v1/platforms/{account_id}", {"ingest_url": shown, "name": "b"}, format="json"
    )
    assert kept.status_code == 200 and PlatformAccount.objects.get().ingest_url == url
    changed = admin_api.patch(
        f"/api/v1/platforms/{account_id}", {"ingest_url": url + "x"}, format="json"
    )
    assert changed.status_code == 200, changed.json()
    assert PlatformAccount.objects.get().ingest_url == url + "x"
    audit = str(list(AuditEntry.objects.values("changes")))
    with connection.cursor() as cursor:  # at rest
        cursor.execute("SELECT ingest_url FROM integrations_platformaccount")
        (stored,) = cursor.fetchone()
    for secret in secrets:
        for text in (shown, listed, changed.content.decode(), audit, stored):
            assert secret not in text


def test_a_url_with_the_mask_in_it_is_not_stored(admin_api: APIClient) -> None:
    account = _create(admin_api, platform="custom_srt", ingest_url=SRT_URL).json()
    response = admin_api.patch(
        f"/api/v1/platforms/{account['id']}",
        {"ingest_url": "srt://127.0.0.1:9000?streamid=••••0123"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "platform.masked_url"
    assert PlatformAccount.objects.get().ingest_url == SRT_URL


def test_the_migration_encrypts_ingest_urls_written_in_clear() -> None:
    account = PlatformAccount.objects.create(
        name="SRT", platform="custom_srt", kind="stream_key", ingest_url=SRT_URL, stream_key=KEY
    )
    with connection.cursor() as cursor:  # as the column held it before
        cursor.execute(
            "UPDATE integrations_platformaccount SET ingest_url = %s WHERE id = %s",
            [SRT_URL, account.pk],
        )
    migration = import_module("apps.integrations.migrations.0006_encrypt_platform_ingest_urls")
    step = migration.Migration.operations[1]
    editor = SimpleNamespace(connection=connection)
    step.code(apps, editor)
    step.code(apps, editor)  # once encrypted, left alone
    with connection.cursor() as cursor:
        cursor.execute("SELECT ingest_url FROM integrations_platformaccount")
        assert SRT_PASSPHRASE not in cursor.fetchone()[0]
    assert PlatformAccount.objects.get().ingest_url == SRT_URL
