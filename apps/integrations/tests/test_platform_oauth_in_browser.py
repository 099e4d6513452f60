"""In headless Chromium: an Admin clicks "Link a YouTube account…" in the admin, the stand-in
platform consents, and the browser lands on the linked account's admin page."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from apps.integrations.platforms.models import AccountStatus, PlatformAccount
from apps.integrations.tests.platform_server import Platform
from apps.recordings.tests.browser import chromium_page, needs_chromium

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True), needs_chromium]


def test_an_admin_links_a_youtube_account_by_clicking_through(
    live_server: Any, admin_user: Any, platform: Platform
) -> None:
    login = Client()
    login.force_login(admin_user)
    session = login.cookies["sessionid"].value
    visited: list[str] = []
    with chromium_page() as page:
        page.context.add_cookies([{"name": "sessionid", "value": session, "url": live_server.url}])
        page.on("request", lambda r: visited.append(r.url) if r.is_navigation_request() else None)
        page.goto(f"{live_server.url}/admin/integrations/platformaccount/")
        page.click('button:has-text("Link a YouTube account…")')
        page.wait_for_selector("text=Linked YouTube account", timeout=30_000)
        landed = page.url
        body = page.content()
    account = PlatformAccount.objects.get()
    assert account.status == AccountStatus.ACTIVE and account.external_name == "Studio"
    assert landed == f"{live_server.url}/admin/integrations/platformaccount/{account.pk}/change/"
    # The browser went to the platform and came back through the callback.
    assert any(url.startswith(platform.url + "/authorize?") for url in visited)
    assert any("/api/v1/platforms/youtube/oauth/callback?" in url for url in visited)
    assert account.access_token not in body and account.refresh_token not in body
