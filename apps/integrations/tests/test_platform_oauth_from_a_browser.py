"""OAuth linking started where no bearer header goes: a one-time ticket link (POST
oauth/start) and the admin's "Link a … account" button; both come back to the admin's
account page. Against the local stand-in platform."""

from __future__ import annotations

import urllib.parse
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from apps.accounts.roles import Role
from apps.integrations import conf
from apps.integrations.platforms.models import AccountKind, AccountStatus, PlatformAccount
from apps.integrations.tests.platform_server import Platform

pytestmark = pytest.mark.django_db
ACCOUNTS = "/admin/integrations/platformaccount/"


def _ticket_link(api: APIClient, kind: str = "youtube", **body: Any) -> str:
    response = api.post(f"/api/v1/platforms/{kind}/oauth/start", body, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["expires_in"] == conf.PLATFORM_OAUTH_TICKET_SECONDS
    return str(response.json()["url"])


def _path(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.path}?{parts.query}"


def _through_the_platform(browser: Client, platform: Platform, start: Any) -> Any:
    """Follow a start's redirect to the provider, consent, and come back to CastCore."""
    assert start.status_code == 302, start.content
    assert start["Location"].startswith(platform.url + "/authorize?")
    return browser.get(_path(platform.authorize(start["Location"])))


def test_a_ticket_link_links_the_account_in_a_browser_and_lands_on_its_admin_page(
    admin_api: APIClient, admin_user: Any, platform: Platform
) -> None:
    link = _ticket_link(admin_api, name="Main channel")
    browser = Client()  # no bearer header, no session: the ticket is the credential
    browser.force_login(admin_user)  # only to read the admin page at the end
    back = _through_the_platform(browser, platform, browser.get(_path(link)))
    account = PlatformAccount.objects.get()
    assert (account.kind, account.status, account.name) == ("oauth", "active", "Main channel")
    assert account.created_by_id == admin_user.pk and account.access_token
    assert back.status_code == 302 and back["Location"] == f"{ACCOUNTS}{account.pk}/change/"
    page = browser.get(back["Location"]).content.decode()
    assert "Linked YouTube account “Studio”." in page
    assert account.access_token not in page and account.refresh_token not in page


def test_a_ticket_link_works_once(admin_api: APIClient, platform: Platform) -> None:
    link = _path(_ticket_link(admin_api))
    assert Client().get(link).status_code == 302
    again = Client().get(link)
    assert again.status_code == 401
    assert again.json()["error"]["code"] == "platform.oauth_ticket_invalid"


@pytest.mark.parametrize("change", ["forged", "other_user", "other_platform"])
def test_a_changed_ticket_link_is_refused(
    admin_api: APIClient, operator_user: Any, platform: Platform, change: str
) -> None:
    link = _path(_ticket_link(admin_api))
    if change == "forged":
        link = link.replace("ticket=", "ticket=x")
    elif change == "other_user":
        link = link.replace("as=", f"as={operator_user.pk}0")
    else:
        link = link.replace("/youtube/", "/twitch/")
    response = Client().get(link)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "platform.oauth_ticket_invalid"
    assert not platform.requests


def test_an_expired_ticket_link_is_refused(
    admin_api: APIClient, platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    link = _path(_ticket_link(admin_api))
    monkeypatch.setattr(conf, "PLATFORM_OAUTH_TICKET_SECONDS", 0)
    assert Client().get(link).status_code == 401


def test_a_ticket_of_an_admin_demoted_since_is_refused(
    admin_api: APIClient, admin_user: Any, platform: Platform
) -> None:
    link = _path(_ticket_link(admin_api))
    admin_user.role = Role.OPERATOR
    admin_user.save()
    response = Client().get(link)
    assert response.status_code == 403
    assert not PlatformAccount.objects.exists()


def test_only_admins_get_a_ticket_link(operator_api: APIClient, platform: Platform) -> None:
    response = operator_api.post("/api/v1/platforms/youtube/oauth/start", {}, format="json")
    assert response.status_code == 403


def test_a_ticket_link_for_a_platform_without_oauth_is_refused_at_once(
    admin_api: APIClient,
) -> None:
    response = admin_api.post("/api/v1/platforms/kick/oauth/start", {}, format="json")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "platform.oauth_not_supported"


def test_a_ticket_link_relinks_a_revoked_account(
    admin_api: APIClient, admin_user: Any, platform: Platform
) -> None:
    account = PlatformAccount.objects.create(
        name="Old", platform="youtube", kind=AccountKind.OAUTH, status=AccountStatus.REVOKED
    )
    browser = Client()
    _through_the_platform(
        browser, platform, browser.get(_path(_ticket_link(admin_api, account=account.pk)))
    )
    account.refresh_from_db()
    assert account.status == AccountStatus.ACTIVE and account.access_token
    assert PlatformAccount.objects.count() == 1


def test_the_admin_list_offers_a_link_button_per_configured_platform(
    admin_browser: Client, platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = admin_browser.get(ACCOUNTS).content.decode()
    assert f'action="{ACCOUNTS}link/youtube/"' in page and "Link a YouTube account…" in page
    assert "Link a Twitch account…" in page and "Link a Kick account" not in page
    monkeypatch.setitem(conf.PLATFORM_OAUTH, "twitch", {"client_id": ""})
    assert "Link a Twitch account…" not in admin_browser.get(ACCOUNTS).content.decode()


def test_the_admin_button_links_with_the_admins_session(
    admin_browser: Client, admin_user: Any, platform: Platform
) -> None:
    back = _through_the_platform(
        admin_browser, platform, admin_browser.post(f"{ACCOUNTS}link/twitch/")
    )
    account = PlatformAccount.objects.get()
    assert (account.platform, account.external_id, account.created_by_id) == (
        "twitch", "4711", admin_user.pk,
    )  # fmt: skip
    assert back["Location"] == f"{ACCOUNTS}{account.pk}/change/"
    page = admin_browser.get(back["Location"]).content.decode()
    assert "Linked Twitch account" in page
    assert f'action="{ACCOUNTS}link/twitch/"' in page and "Re-link…" in page
    assert f'name="account" value="{account.pk}"' in page


def test_a_denied_consent_comes_back_to_the_admin_list_with_the_code(
    admin_browser: Client, platform: Platform
) -> None:
    start = admin_browser.post(f"{ACCOUNTS}link/youtube/")
    state = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(start["Location"]).query))["state"]
    back = admin_browser.get(
        "/api/v1/platforms/youtube/oauth/callback", {"state": state, "error": "access_denied"}
    )
    assert back.status_code == 302 and back["Location"] == ACCOUNTS
    page = admin_browser.get(ACCOUNTS).content.decode()
    assert "The account was not linked: platform.oauth_denied" in page
    assert not PlatformAccount.objects.exists()


def test_the_admin_button_needs_an_admin(operator_user: Any, platform: Platform) -> None:
    operator_user.is_staff = True
    operator_user.save()
    client = Client()
    client.force_login(operator_user)
    response = client.post(f"{ACCOUNTS}link/youtube/")
    assert response.status_code in (302, 403)
    assert not str(response.get("Location", "")).startswith(platform.url)


def test_the_apis_get_start_still_answers_json(admin_api: APIClient, platform: Platform) -> None:
    start = admin_api.get("/api/v1/platforms/youtube/oauth/start", {"name": "API"})
    back = _through_the_platform(admin_api, platform, start)
    assert back.status_code == 200 and back.json()["name"] == "API"


def test_the_admin_button_is_a_form_another_site_cannot_submit(
    admin_user: Any, platform: Platform
) -> None:
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(admin_user)
    assert browser.get(f"{ACCOUNTS}link/youtube/").status_code == 405
    assert browser.post(f"{ACCOUNTS}link/youtube/").status_code == 403  # no CSRF token
    assert not platform.requests and not PlatformAccount.objects.exists()


def test_the_admin_relinks_a_revoked_account(admin_browser: Client, platform: Platform) -> None:
    account = PlatformAccount.objects.create(
        name="Old", platform="youtube", kind=AccountKind.OAUTH, status=AccountStatus.REVOKED
    )
    start = admin_browser.post(f"{ACCOUNTS}link/youtube/", {"account": account.pk})
    back = _through_the_platform(admin_browser, platform, start)
    assert back["Location"] == f"{ACCOUNTS}{account.pk}/change/"
    account.refresh_from_db()
    assert account.status == AccountStatus.ACTIVE and PlatformAccount.objects.count() == 1
