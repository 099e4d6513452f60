"""The watch page's chat panel in headless Chromium, served by daphne on PostgreSQL and Redis."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.test import Client

from apps.accounts.roles import Role
from apps.accounts.tests.factories import UserFactory
from apps.chat.models import ChatMessage, ChatModerator
from apps.chat.tests.factories import LiveStreamFactory
from apps.recordings.tests.asgi_server import AsgiServer, asgi_server
from apps.recordings.tests.browser import CHROMIUM, CHROMIUM_ARGS, needs_chromium

pytestmark = [pytest.mark.slow, needs_chromium]

__all__ = ["asgi_server"]


@contextmanager
def _browser() -> Iterator[Any]:
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def test_a_message_typed_in_one_browser_appears_in_the_other_and_a_moderator_hides_it(
    asgi_server: AsgiServer,
) -> None:
    stream: Any = LiveStreamFactory()
    path = f"/live/{stream.slug}"
    moderator: Any = UserFactory(role=Role.VIEWER, username="mod")
    ChatModerator.objects.create(stream=stream, user=moderator)
    login = Client()
    login.force_login(moderator)
    session = login.cookies["sessionid"].value
    with _browser() as browser:
        viewer = browser.new_context().new_page()
        staff_context = browser.new_context()
        staff_context.add_cookies([{"name": "sessionid", "value": session, "url": asgi_server.url}])
        staff = staff_context.new_page()
        for page in (viewer, staff):
            page.goto(asgi_server.url + path)
            # Connected: the panel knows who it chats as.
            page.wait_for_function(
                "document.querySelector('.chat-me') && "
                "document.querySelector('.chat-me').textContent !== '…'",
                timeout=10_000,
            )
        assert staff.text_content(".chat-me") == "mod"
        viewer.fill(".chat-form input[name=body]", "hello from **the** viewer")
        sent = time.monotonic()
        viewer.press(".chat-form input[name=body]", "Enter")
        staff.wait_for_selector(".chat-message:has-text('hello from the viewer')", timeout=1_000)
        delay = time.monotonic() - sent
        assert delay < 1.0
        # The markup arrived rendered: bold is a <strong>, not asterisks.
        assert (
            staff.inner_html(".chat-message .chat-body") == "hello from <strong>the</strong> viewer"
        )
        viewer.wait_for_selector(".chat-message:has-text('hello from the viewer')", timeout=2_000)
        staff.click(".chat-message .chat-hide")
        viewer.wait_for_selector(
            ".chat-message:has-text('hello from the viewer')", state="detached", timeout=2_000
        )
        # The moderator still sees it, marked hidden.
        staff.wait_for_selector(".chat-message.is-hidden", timeout=2_000)
    message = ChatMessage.objects.get()
    assert not message.visible and message.hidden_by_id == moderator.pk
