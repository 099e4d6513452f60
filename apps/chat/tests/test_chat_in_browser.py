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


def _open_panel(page: Any, url: str) -> None:
    page.goto(url)
    # Connected: the panel knows who it chats as.
    page.wait_for_function(
        "document.querySelector('.chat-me') && "
        "document.querySelector('.chat-me').textContent !== '…'",
        timeout=10_000,
    )


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
            _open_panel(page, asgi_server.url + path)
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


# Records every socket the page opens (with its URL), and while `__blockSockets` is set
# points new ones at a closed port: the page's own reconnects fail until it is cleared.
_SOCKET_CONTROL = """
(() => {
  const Real = window.WebSocket;
  window.__chatSockets = [];
  window.__blockSockets = false;
  function Controlled(url, protocols) {
    const socket = new Real(window.__blockSockets ? "ws://127.0.0.1:9/" : url, protocols);
    window.__chatSockets.push({ url: String(url), socket: socket });
    return socket;
  }
  Controlled.prototype = Real.prototype;
  Object.assign(Controlled, { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 });
  window.WebSocket = Controlled;
})();
"""


def _bodies(page: Any) -> list[str]:
    return page.eval_on_selector_all(
        ".chat-messages .chat-message:not(.is-action) .chat-body",
        "rows => rows.map(row => row.textContent)",
    )


def test_a_reconnecting_panel_shows_every_message_it_missed_once_and_in_order(
    asgi_server: AsgiServer,
) -> None:
    stream: Any = LiveStreamFactory()
    path = f"/live/{stream.slug}"
    with _browser() as browser:
        reader_context = browser.new_context()
        reader_context.add_init_script(_SOCKET_CONTROL)
        reader = reader_context.new_page()
        writer = browser.new_context().new_page()
        for page in (reader, writer):
            _open_panel(page, asgi_server.url + path)

        def say(body: str) -> None:
            writer.fill(".chat-form input[name=body]", body)
            writer.press(".chat-form input[name=body]", "Enter")
            # Stored and broadcast: the writer's own copy came back.
            writer.wait_for_selector(f".chat-message:has-text('{body}')", timeout=5_000)

        say("before the cut")
        reader.wait_for_selector(".chat-message:has-text('before the cut')", timeout=5_000)
        before_id = reader.get_attribute(".chat-message:has-text('before the cut')", "data-id")
        # Cut the reader's socket; its reconnects fail until it is let through again.
        reader.evaluate(
            "window.__blockSockets = true;"
            "window.__chatSockets[window.__chatSockets.length - 1].socket.close()"
        )
        reader.wait_for_function(
            "document.querySelector('.chat-status').textContent.startsWith('Reconnecting')",
            timeout=5_000,
        )
        missed = [f"missed {n}" for n in range(1, 5)]  # with the first: 5, the burst limit
        for body in missed:
            say(body)
        assert _bodies(reader) == ["before the cut"]  # the cut socket got none of them
        opened = reader.evaluate("window.__chatSockets.length")
        reader.evaluate("window.__blockSockets = false")
        # Its next attempt gets through and asks for what came after its last message.
        reader.wait_for_selector(".chat-message:has-text('missed 4')", timeout=20_000)
        urls = reader.evaluate("window.__chatSockets.map(each => each.url)")
        assert len(urls) > opened and f"since={before_id}" in urls[-1]
        assert _bodies(reader) == ["before the cut", *missed]
        # Live again: the next message arrives once, after the ones it caught up on.
        writer.wait_for_timeout(3_100)  # out of the writer's burst window
        say("after the reconnect")
        reader.wait_for_selector(".chat-message:has-text('after the reconnect')", timeout=5_000)
        assert _bodies(reader) == ["before the cut", *missed, "after the reconnect"]
