"""The home page in headless Chromium (Debian's): layout, keyboard, small screens, sign-in."""

from __future__ import annotations

from typing import Any

import pytest

from apps.accounts.roles import Role
from apps.accounts.tests.factories import PASSWORD, UserFactory
from apps.recordings.tests.browser import chromium_page, needs_chromium
from apps.system.models import GlobalSettings

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True), needs_chromium]


def _name_the_site(name: str) -> None:
    row = GlobalSettings.load()
    row.site_name = name
    row.save()


def test_the_home_page_renders_with_its_styles_and_no_errors(live_server: Any) -> None:
    _name_the_site("Studio Nord")
    errors: list[str] = []
    failed: list[str] = []
    with chromium_page() as page:
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("requestfailed", lambda request: failed.append(request.url))
        page.on(
            "response",
            lambda response: failed.append(response.url) if response.status >= 400 else None,
        )

        response = page.goto(f"{live_server.url}/")

        assert response is not None and response.status == 200
        assert page.title() == "Home · Studio Nord"
        assert page.locator("h1").inner_text() == "Studio Nord"
        assert page.locator("footer").inner_text().startswith("Studio Nord")
        # The site stylesheet applied: the header bar has its colour.
        background = page.eval_on_selector(
            ".site-header", "el => getComputedStyle(el).backgroundColor"
        )
        assert background == "rgb(30, 36, 48)"
        assert page.locator("#empty-state").is_visible()
        icon = page.request.get(f"{live_server.url}/favicon.ico")
        assert icon.status == 200 and icon.body()[:4] == b"\x00\x00\x01\x00"
    assert not errors and not failed


def test_the_keyboard_reaches_the_skip_link_first_and_it_jumps_to_the_content(
    live_server: Any,
) -> None:
    with chromium_page() as page:
        page.goto(f"{live_server.url}/")
        page.keyboard.press("Tab")
        focused = page.evaluate("() => document.activeElement.className")
        assert focused == "skip-link"
        # Hidden until focused, then on screen.
        assert page.eval_on_selector(".skip-link", "el => el.getBoundingClientRect().top") >= 0
        page.keyboard.press("Enter")
        assert page.evaluate("() => document.activeElement.id") == "content"


def test_the_layout_fits_a_phone_screen(live_server: Any) -> None:
    with chromium_page() as page:
        page.set_viewport_size({"width": 360, "height": 740})
        page.goto(f"{live_server.url}/")
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 360
        assert page.get_by_role("link", name="Explore recordings").is_visible()
        assert page.locator(".site-account").get_by_role("link", name="Sign in").is_visible()


def test_signing_in_from_the_home_page_comes_back_to_it(live_server: Any) -> None:
    user = UserFactory(username="ada", role=Role.ADMIN)
    with chromium_page() as page:
        page.goto(f"{live_server.url}/")
        page.locator(".site-account").get_by_role("link", name="Sign in").click()
        page.get_by_label("Username").fill(user.username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{live_server.url}/")
        assert "Signed in as ada" in page.locator(".site-account").inner_text()
        nav = page.get_by_role("navigation", name="Main")
        assert nav.get_by_role("link", name="Admin").get_attribute("href") == "/admin/"
        assert nav.get_by_role("link", name="API docs").get_attribute("href") == "/api/v1/docs/"
