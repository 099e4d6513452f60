"""The viewer site's base layout, home page, favicon and sign-in redirects (Django test client)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.staticfiles import finders
from django.test import Client

from apps.accounts.roles import Role
from apps.accounts.tests.factories import PASSWORD, UserFactory
from apps.recordings.tests.factories import a_recording
from apps.system.models import GlobalSettings

pytestmark = pytest.mark.django_db


def _client(user: Any | None = None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def _home(user: Any | None = None) -> str:
    response = _client(user).get("/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    return response.content.decode()


def test_the_home_page_is_a_real_page_with_the_instance_name() -> None:
    settings_row = GlobalSettings.load()
    settings_row.site_name = "Studio Nord"
    settings_row.save()
    html = _home()
    assert "<h1" in html and "Studio Nord" in html
    assert html.count("Studio Nord") >= 3  # title, header, footer
    assert 'href="/explore"' in html
    assert 'href="/login/?next=/"' in html


def test_the_layout_is_accessible_by_keyboard() -> None:
    html = _home()
    assert '<html lang="en">' in html
    assert '<a class="skip-link" href="#content">' in html and '<main id="content"' in html
    assert '<nav class="site-nav" aria-label="Main">' in html
    assert 'name="viewport"' in html


def test_anonymous_visitors_see_no_admin_or_api_docs_links() -> None:
    html = _home()
    assert "/admin/" not in html and "/api/v1/docs/" not in html


def test_admins_get_the_admin_and_the_api_docs() -> None:
    html = _home(UserFactory(role=Role.ADMIN))
    assert 'href="/admin/"' in html and 'href="/api/v1/docs/"' in html
    assert "Sign out" in html and "Sign in" not in html


def test_operators_get_the_api_docs_but_not_the_admin() -> None:
    html = _home(UserFactory(role=Role.OPERATOR))
    assert 'href="/api/v1/docs/"' in html and 'href="/admin/"' not in html


def test_viewers_get_neither_admin_nor_api_docs() -> None:
    html = _home(UserFactory(role=Role.VIEWER))
    assert "/admin/" not in html and "/api/v1/docs/" not in html


def test_a_new_instance_says_how_to_create_the_first_admin() -> None:
    html = _home()
    assert 'id="empty-state"' in html and "make superuser" in html


def test_an_empty_instance_tells_operators_how_to_start() -> None:
    html = _home(UserFactory(role=Role.OPERATOR))
    assert 'id="empty-state"' in html and "asciinema upload" in html
    assert "make superuser" not in html


def test_public_recordings_replace_the_empty_state() -> None:
    recording = a_recording(visibility="public", title="Deploy walkthrough")
    hidden = a_recording(visibility="private", title="Private notes")
    html = _home()
    assert 'id="empty-state"' not in html
    assert "Deploy walkthrough" in html and f'href="{recording.page_path}"' in html
    assert "Private notes" not in html and hidden.page_path not in html


def test_the_home_page_answers_head_and_refuses_post() -> None:
    assert Client().head("/").status_code == 200
    assert Client().post("/").status_code == 405


def test_favicon_ico_exists() -> None:
    response: Any = Client().get("/favicon.ico")
    assert response.status_code == 200 and response["Content-Type"] == "image/x-icon"
    assert b"".join(response.streaming_content)[:4] == b"\x00\x00\x01\x00"  # ICO header
    assert finders.find("favicon.ico") is not None  # collected with the static files too


def test_the_admins_view_site_link_leads_to_the_home_page() -> None:
    admin = _client(UserFactory(role=Role.ADMIN))
    page = admin.get("/admin/").content.decode()
    assert '<a href="/">View site</a>' in page
    assert admin.get("/").status_code == 200


def test_unknown_pages_are_a_404_in_the_site_layout() -> None:
    response = Client().get("/no/such/page")
    assert response.status_code == 404
    html = response.content.decode()
    assert "Page not found" in html and 'class="site-header"' in html


def _sign_in(next_url: str | None) -> Any:
    user = UserFactory(role=Role.VIEWER)
    data = {"username": user.username, "password": PASSWORD}
    if next_url is not None:
        data["next"] = next_url
    return Client().post("/login/", data)


def test_sign_in_lands_on_the_home_page_not_accounts_profile() -> None:
    response = _sign_in(None)
    assert response.status_code == 302 and response["Location"] == "/"


def test_sign_in_lands_on_a_safe_next() -> None:
    response = _sign_in("/explore?page=2")
    assert response.status_code == 302 and response["Location"] == "/explore?page=2"


@pytest.mark.parametrize(
    "next_url",
    [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example/",
        "http:evil.example",
        "javascript:alert(1)",
    ],
)
def test_sign_in_never_follows_a_next_off_this_site(next_url: str) -> None:
    response = _sign_in(next_url)
    assert response.status_code == 302 and response["Location"] == "/"


def test_the_sign_in_page_keeps_next_for_the_form() -> None:
    html = Client().get("/login/?next=/explore").content.decode()
    assert 'name="next" value="/explore"' in html


def test_replays_alone_are_something_to_watch() -> None:
    from apps.channels.tests.factories import a_replay
    from apps.recordings.models import Visibility

    assert 'id="empty-state"' in _home()
    replay = a_replay(visibility=Visibility.PUBLIC, title="Last night's show")
    html = _home()
    assert "Last night&#x27;s show" in html and replay.page_path in html
    assert 'id="empty-state"' not in html and "Nothing to watch yet" not in html
