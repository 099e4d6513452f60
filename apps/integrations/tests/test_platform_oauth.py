"""Linking a platform account through OAuth (code + PKCE) against a local stand-in platform."""

from __future__ import annotations

import logging
import time
import urllib.parse
from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.integrations import conf
from apps.integrations.platforms import services
from apps.integrations.platforms.models import AccountStatus, PlatformAccount
from apps.integrations.tests.linking import callback as _callback
from apps.integrations.tests.linking import link as _link
from apps.integrations.tests.linking import start as _start
from apps.integrations.tests.platform_server import STREAM_KEY, Platform

pytestmark = pytest.mark.django_db


def test_linking_stores_encrypted_tokens_and_shows_none(
    admin_api: APIClient, platform: Platform
) -> None:
    body = _link(admin_api, platform)
    assert body["kind"] == "oauth" and body["linked"] is True
    assert (body["name"], body["external_id"], body["external_name"]) == ("Main", "UC123", "Studio")
    account = PlatformAccount.objects.get(pk=body["id"])
    assert account.access_token.startswith("at-") and account.refresh_token.startswith("rt-")
    listed = admin_api.get("/api/v1/platforms").content.decode()
    assert account.access_token not in listed and account.refresh_token not in listed
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT access_token, refresh_token FROM integrations_platformaccount WHERE id = %s",
            [account.pk],
        )
        stored = cursor.fetchone()
    assert account.access_token not in stored[0] and account.refresh_token not in stored[1]


def test_the_authorize_url_carries_a_pkce_challenge_and_no_verifier(
    admin_api: APIClient, platform: Platform
) -> None:
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(_start(admin_api)).query))
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    assert "code_verifier" not in query


def test_a_wrong_state_is_refused_and_nothing_is_stored(
    admin_api: APIClient, platform: Platform
) -> None:
    callback = platform.authorize(_start(admin_api))
    forged = callback.replace("state=", "state=x")
    response = _callback(admin_api, forged)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "platform.oauth_state_invalid"
    assert not PlatformAccount.objects.exists()


def test_the_state_only_works_in_the_browser_that_started(
    admin_api: APIClient, platform: Platform
) -> None:
    callback = platform.authorize(_start(admin_api))
    other_browser = APIClient()  # the same state, without the binding cookie
    response = _callback(other_browser, callback)
    assert response.json()["error"]["code"] == "platform.oauth_state_invalid"
    assert not PlatformAccount.objects.exists()


def test_a_replayed_callback_is_refused(admin_api: APIClient, platform: Platform) -> None:
    callback = platform.authorize(_start(admin_api))
    assert _callback(admin_api, callback).status_code == 200
    admin_api.cookies.load({"cc_platform_oauth": "x"})  # whatever the browser holds now
    again = _callback(admin_api, callback)
    assert again.json()["error"]["code"] == "platform.oauth_state_invalid"
    assert PlatformAccount.objects.count() == 1


def test_a_replayed_code_is_refused_by_the_platform(
    admin_api: APIClient, platform: Platform
) -> None:
    first = platform.authorize(_start(admin_api))
    code = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(first).query))["code"]
    assert _callback(admin_api, first).status_code == 200
    # A second authorization whose callback carries the used code.
    second = platform.authorize(_start(admin_api))
    replay = second.replace(second.split("code=")[1].split("&")[0], code)
    response = _callback(admin_api, replay)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "platform.oauth_code_invalid"
    assert PlatformAccount.objects.count() == 1


def test_a_denied_consent_is_a_code(admin_api: APIClient, platform: Platform) -> None:
    authorize = _start(admin_api)
    state = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(authorize).query))["state"]
    response = admin_api.get(
        "/api/v1/platforms/youtube/oauth/callback", {"state": state, "error": "access_denied"}
    )
    assert response.json()["error"]["code"] == "platform.oauth_denied"


def test_an_expired_token_is_refreshed_before_use(
    admin_api: APIClient, platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    platform.token_seconds = 1.0
    monkeypatch.setattr(conf, "PLATFORM_TOKEN_REFRESH_MARGIN_SECONDS", 0)
    account = PlatformAccount.objects.get(pk=_link(admin_api, platform)["id"])
    first = account.access_token
    time.sleep(1.2)  # the stand-in now answers 401 to the old token
    platform.token_seconds = 3600.0
    response = admin_api.post(f"/api/v1/platform-accounts/{account.pk}/test")
    assert response.json() == {"ok": True, "code": "platform.ok"}
    account.refresh_from_db()
    assert account.access_token != first
    assert platform.requests.count(("POST", "/token")) == 2  # the exchange, one refresh


def test_a_revoked_grant_says_so_and_relinking_restores_it(
    admin_api: APIClient, platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = PlatformAccount.objects.get(pk=_link(admin_api, platform)["id"])
    platform.revoked.add(account.refresh_token)  # revoked by the user on the platform's side
    platform.revoked.add(account.access_token)
    PlatformAccount.objects.filter(pk=account.pk).update(token_expires_at="2000-01-01T00:00Z")
    response = admin_api.post(f"/api/v1/platform-accounts/{account.pk}/test")
    assert response.json() == {"ok": False, "code": "platform.token_revoked"}
    account.refresh_from_db()
    assert account.status == AccountStatus.REVOKED and account.access_token == ""
    relinked = _callback(
        admin_api, platform.authorize(_start(admin_api, account=account.pk))
    ).json()
    assert relinked["id"] == account.pk and relinked["status"] == "active"
    assert PlatformAccount.objects.count() == 1


def test_revoke_tells_the_platform_and_forgets_the_tokens(
    admin_api: APIClient, platform: Platform
) -> None:
    account = PlatformAccount.objects.get(pk=_link(admin_api, platform)["id"])
    refresh = account.refresh_token
    response = admin_api.post(f"/api/v1/platform-accounts/{account.pk}/revoke")
    assert response.status_code == 200 and response.json()["status"] == "revoked"
    assert refresh in platform.revoked
    account.refresh_from_db()
    assert account.access_token == account.refresh_token == ""
    test = admin_api.post(f"/api/v1/platform-accounts/{account.pk}/test").json()
    assert test == {"ok": False, "code": "platform.account_revoked"}


def test_twitch_links_and_its_ingest_comes_from_the_stream_key_endpoint(
    admin_api: APIClient, platform: Platform
) -> None:
    account = PlatformAccount.objects.get(pk=_link(admin_api, platform, "twitch")["id"])
    assert account.external_id == "4711"
    ingest = services.account_ingest(account)
    assert (ingest.url, ingest.key) == ("rtmp://live.twitch.tv/app", STREAM_KEY)


def test_only_admins_link_accounts(operator_api: APIClient, platform: Platform) -> None:
    response = operator_api.get("/api/v1/platforms/youtube/oauth/start")
    assert response.status_code == 403


def test_a_platform_without_oauth_is_a_404_code(admin_api: APIClient) -> None:
    response = admin_api.get("/api/v1/platforms/kick/oauth/start")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "platform.oauth_not_supported"


def test_no_token_reaches_the_logs(
    admin_api: APIClient, platform: Platform, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    account = PlatformAccount.objects.get(pk=_link(admin_api, platform)["id"])
    admin_api.post(f"/api/v1/platform-accounts/{account.pk}/test")
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert account.access_token not in logged and account.refresh_token not in logged


def test_linking_is_audited_as_the_admin_who_started_it(
    admin_api: APIClient, admin_user: Any, platform: Platform
) -> None:
    from apps.accounts.models import AuditEntry

    account = _link(admin_api, platform)
    entry = AuditEntry.objects.get(action="platform_account.link")
    assert entry.actor_id == admin_user.pk and entry.target_id == str(account["id"])


def test_relinking_to_another_channel_is_refused_and_the_account_is_unchanged(
    admin_api: APIClient, platform: Platform
) -> None:
    account = PlatformAccount.objects.get(pk=_link(admin_api, platform)["id"])
    platform.channel_id = "UC-other-channel"  # the user consents as another channel
    response = _callback(admin_api, platform.authorize(_start(admin_api, account=account.pk)))
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "platform.relink_other_channel"
    assert error["params"]["external_id"] == "UC-other-channel"
    before = (account.external_id, account.access_token, account.refresh_token)
    account.refresh_from_db()
    assert (account.external_id, account.access_token, account.refresh_token) == before
    assert PlatformAccount.objects.count() == 1
    assert platform.requests.count(("POST", "/revoke")) == 1  # the unwanted grant handed back
    # The same channel re-links as before.
    platform.channel_id = "UC123"
    relinked = _callback(admin_api, platform.authorize(_start(admin_api, account=account.pk)))
    assert relinked.status_code == 200 and relinked.json()["id"] == account.pk
