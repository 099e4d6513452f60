"""The chat panel on the watch page (/live/<slug>): what the page gives the script."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from apps.accounts.roles import Role
from apps.accounts.tests.factories import UserFactory
from apps.chat.models import ChatModerator
from apps.chat.tests.factories import LiveStreamFactory
from apps.chat.tickets import user_for_ticket
from apps.streams.live import viewing
from apps.streams.models import LiveVisibility

pytestmark = pytest.mark.django_db


def _panel(html: str) -> str:
    start = html.index('<section id="chat"')
    return html[start : html.index("</section>", start)]


def test_an_anonymous_viewer_gets_the_panel_without_a_ticket() -> None:
    stream: Any = LiveStreamFactory()
    panel = _panel(Client().get(f"/live/{stream.slug}").content.decode())
    assert "data-chat" in panel
    assert f'data-ws-path="/api/v1/ws/chat/{stream.pk}"' in panel
    assert 'data-ticket=""' in panel
    assert "chat/chat.js" in panel


def test_a_signed_in_viewer_gets_a_ticket_for_the_chat_socket_only() -> None:
    stream: Any = LiveStreamFactory()
    user: Any = UserFactory(role=Role.VIEWER)
    ChatModerator.objects.create(stream=stream, user=user)
    client = Client()
    client.force_login(user)
    panel = _panel(client.get(f"/live/{stream.slug}").content.decode())
    ticket = panel.split('data-ticket="', 1)[1].split('"', 1)[0]
    assert user_for_ticket(ticket) == user
    assert user_for_ticket(ticket.replace(f"{user.pk}.", "999.", 1)) is None


def test_a_private_streams_watch_link_shows_no_chat() -> None:
    stream: Any = LiveStreamFactory(visibility=LiveVisibility.PRIVATE)
    ticket = viewing.watch_ticket(stream)
    response = Client().get(f"/live/{stream.slug}", {viewing.TICKET_PARAM: ticket})
    assert response.status_code == 200
    panel = _panel(response.content.decode())
    assert "data-chat" not in panel and "Sign in" in panel
