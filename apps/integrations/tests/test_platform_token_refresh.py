"""A linked account's access token is refreshed before it expires (within the margin), and a
refused refresh leaves the account needing re-linking."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from apps.integrations import conf
from apps.integrations.platforms import oauth
from apps.integrations.platforms.models import AccountStatus, PlatformAccount
from apps.integrations.tests.linking import link
from apps.integrations.tests.platform_server import Platform

pytestmark = pytest.mark.django_db


def _expiring_in(account: PlatformAccount, seconds: float) -> None:
    PlatformAccount.objects.filter(pk=account.pk).update(
        token_expires_at=timezone.now() + timedelta(seconds=seconds)
    )
    account.refresh_from_db()


def test_the_default_margin_is_five_minutes() -> None:
    assert conf.PLATFORM_TOKEN_REFRESH_MARGIN_SECONDS == 300


def test_a_token_expiring_within_the_margin_is_refreshed_before_use(
    admin_api: APIClient, platform: Platform
) -> None:
    account = PlatformAccount.objects.get(pk=link(admin_api, platform)["id"])
    old = account.access_token
    # Still valid at the platform for a minute: only the margin makes CastCore refresh it.
    _expiring_in(account, 60)
    response = admin_api.post(f"/api/v1/platform-accounts/{account.pk}/test")
    assert response.json() == {"ok": True, "code": "platform.ok"}
    account.refresh_from_db()
    assert account.access_token != old and account.access_token in platform.access
    assert account.token_expires_at is not None
    assert account.token_expires_at > timezone.now() + timedelta(minutes=50)
    assert platform.requests.count(("POST", "/token")) == 2  # the exchange, then one refresh


def test_a_token_expiring_after_the_margin_is_used_as_it_is(
    admin_api: APIClient, platform: Platform
) -> None:
    account = PlatformAccount.objects.get(pk=link(admin_api, platform)["id"])
    old = account.access_token
    _expiring_in(account, conf.PLATFORM_TOKEN_REFRESH_MARGIN_SECONDS + 120)
    assert oauth.access_token(account) == old
    assert platform.requests.count(("POST", "/token")) == 1


def test_the_margin_is_a_setting(
    admin_api: APIClient, platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = PlatformAccount.objects.get(pk=link(admin_api, platform)["id"])
    _expiring_in(account, 1800)
    monkeypatch.setattr(conf, "PLATFORM_TOKEN_REFRESH_MARGIN_SECONDS", 3600)
    old = account.access_token
    assert oauth.access_token(account) != old
    assert platform.requests.count(("POST", "/token")) == 2


def test_a_refused_refresh_marks_the_account_for_relinking(
    admin_api: APIClient, platform: Platform
) -> None:
    account = PlatformAccount.objects.get(pk=link(admin_api, platform)["id"])
    platform.revoked.add(account.refresh_token)  # the user removed the app on the platform
    _expiring_in(account, 60)
    response = admin_api.post(f"/api/v1/platform-accounts/{account.pk}/test")
    assert response.json() == {"ok": False, "code": "platform.token_revoked"}
    account.refresh_from_db()
    assert account.status == AccountStatus.REVOKED
    assert account.access_token == account.refresh_token == ""
    listed = admin_api.get(f"/api/v1/platforms/{account.pk}").json()
    assert (listed["status"], listed["linked"]) == ("revoked", False)
    # Later uses say so without asking the platform again.
    calls = len(platform.requests)
    with pytest.raises(oauth.AccountUnusable) as refused:
        oauth.access_token(account)
    assert refused.value.code == "platform.account_revoked"
    assert len(platform.requests) == calls


def test_an_unreachable_platform_does_not_unlink_the_account(
    admin_api: APIClient, platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = PlatformAccount.objects.get(pk=link(admin_api, platform)["id"])
    _expiring_in(account, 60)
    settings = dict(conf.PLATFORM_OAUTH["youtube"], token_url="http://127.0.0.1:9/token")
    monkeypatch.setitem(conf.PLATFORM_OAUTH, "youtube", settings)
    with pytest.raises(oauth.AccountUnusable) as refused:
        oauth.access_token(account)
    assert refused.value.code == "platform.unreachable"
    account.refresh_from_db()
    assert account.status == AccountStatus.ACTIVE and account.refresh_token
