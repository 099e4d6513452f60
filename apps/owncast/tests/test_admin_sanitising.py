"""Owncast's HTML fields are cleaned (nh3) before they are stored, so every reader (Owncast's
/api/config, serverconfig, CastCore's watch page) gets them clean."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from apps.owncast.models import StreamOwncastSettings
from apps.owncast.tests.admin_client import Admin, basic
from apps.streams.live.models import LiveStream

pytestmark = pytest.mark.django_db

ATTACK = (
    '<script>alert("x")</script><img src=x onerror="alert(1)">'
    '<a href="javascript:alert(2)">link</a><iframe src="https://evil.example"></iframe>'
)


@pytest.fixture
def red(streams: dict[str, Any]) -> Admin:
    return Admin("red", basic(streams["red_key"]))


def _no_active_content(text: str) -> None:
    lowered = text.lower()
    for bad in ("<script", "onerror", "javascript:", "<iframe", "alert("):
        assert bad not in lowered, (bad, text)


def test_page_content_keeps_its_markup_without_scripts(red: Admin) -> None:
    assert red.set("pagecontent", "<h1>Welcome</h1><p>I <em>hope</em></p>" + ATTACK).json()[
        "success"
    ]
    stored = LiveStream.objects.get(slug="red").page_content
    assert "<h1>Welcome</h1>" in stored and "<em>hope</em>" in stored
    _no_active_content(stored)
    _no_active_content(Client().get("/owncast/red/api/config").json()["extraPageContent"])
    page = Client().get("/live/red")
    if page.status_code == 200:  # the watch page shows it as HTML
        assert "<h1>Welcome</h1>" in page.content.decode()
        section = page.content.decode().split("live-page-content")[1].split("</section>")[0]
        _no_active_content(section)


def test_the_summary_is_text_with_no_tag(red: Admin) -> None:
    assert red.set("serversummary", "<b>Tom</b> & Jerry > " + ATTACK).json()["success"]
    stored = LiveStream.objects.get(slug="red").summary
    assert stored.startswith("Tom & Jerry > ") and "<" not in stored
    _no_active_content(stored)
    served = Client().get("/owncast/red/api/config").json()["summary"]  # rendered (Markdown)
    assert "Tom" in served and "Jerry" in served
    _no_active_content(served)
    assert "<b>" not in served


def test_custom_styles_cannot_close_their_style_element(red: Admin) -> None:
    css = (
        "body > main { color: orange; background: black; }"
        "</style><script>alert(1)</script><style>"
        "a::after { content: '&lt;/style&gt;' }"
    )
    assert red.set("customstyles", css).json()["success"]
    stored = StreamOwncastSettings.objects.get(stream__slug="red").custom_styles
    assert stored.startswith("body > main { color: orange; background: black; }")
    assert "<" not in stored and "alert(1)" not in stored
    assert Client().get("/owncast/red/api/config").json()["customStyles"] == stored
    assert red.get("serverconfig").json()["instanceDetails"]["customStyles"] == stored


def test_the_welcome_message_and_external_actions_are_cleaned(red: Admin) -> None:
    assert red.set("welcomemessage", "<p>Hi</p>" + ATTACK).json()["success"]
    actions = [{"url": "https://example.org", "title": "<b>Give</b><script>alert(1)</script>"}]
    assert red.set("externalactions", actions).json()["success"]
    settings_row = StreamOwncastSettings.objects.get(stream__slug="red")
    assert "<p>Hi</p>" in settings_row.welcome_message
    _no_active_content(settings_row.welcome_message)
    assert settings_row.external_actions[0]["title"].startswith("Give")
    _no_active_content(str(settings_row.external_actions))
