"""The home page's live streams and the watch page: who sees what, and what the page says."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from apps.accounts.roles import Role
from apps.accounts.tests.factories import UserFactory
from apps.streams.tests.live_helpers import (  # noqa: F401
    _live_folders,
    a_live_stream,
    end_session,
    write_static_hls,
)

pytestmark = pytest.mark.django_db


def _signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_home_page_lists_public_live_streams_only_to_anonymous_viewers() -> None:
    public = a_live_stream(visibility="public", title="Public show")
    unlisted = a_live_stream(visibility="unlisted", title="Unlisted show")
    private = a_live_stream(visibility="private", title="Private show")
    offline = a_live_stream(visibility="public", title="Offline show", live=False)
    for stream in (public, unlisted, private, offline):
        write_static_hls(stream)

    html = Client().get("/").content.decode()

    assert f'href="/live/{public.slug}"' in html and "Public show" in html
    for hidden in (unlisted, private, offline):
        assert f"/live/{hidden.slug}" not in html


def test_the_home_page_lists_a_users_own_private_and_unlisted_streams() -> None:
    owner: Any = UserFactory(role=Role.VIEWER)
    private = a_live_stream(visibility="private", owner=owner)
    unlisted = a_live_stream(visibility="unlisted", owner=owner)
    someone_elses = a_live_stream(visibility="private")
    for stream in (private, unlisted, someone_elses):
        write_static_hls(stream)

    html = _signed_in(owner).get("/").content.decode()

    assert f"/live/{private.slug}" in html and f"/live/{unlisted.slug}" in html
    assert f"/live/{someone_elses.slug}" not in html


def test_admins_see_every_live_stream_on_the_home_page() -> None:
    private = a_live_stream(visibility="private")
    write_static_hls(private)
    admin: Any = UserFactory(role=Role.ADMIN)

    assert f"/live/{private.slug}" in _signed_in(admin).get("/").content.decode()


def test_the_home_page_says_live_only_once_the_watch_page_can_play() -> None:
    stream = a_live_stream(visibility="public", title="Warming up")
    # A session is open, the transcode has not written the master playlist yet.
    assert f"/live/{stream.slug}" not in Client().get("/").content.decode()
    assert "Offline" in Client().get(f"/live/{stream.slug}").content.decode()

    write_static_hls(stream)

    html = Client().get("/").content.decode()
    assert f"/live/{stream.slug}" in html and "badge-live" in html
    assert 'id="live-state" role="status" class="badge badge-live">Live' in (
        Client().get(f"/live/{stream.slug}").content.decode()
    )


def test_a_stream_that_ended_leaves_the_home_page() -> None:
    stream = a_live_stream(visibility="public")
    write_static_hls(stream)
    end_session(stream)

    html = Client().get("/").content.decode()

    assert f"/live/{stream.slug}" not in html
    assert 'id="empty-state"' in html


def test_the_watch_page_shows_title_summary_tags_and_a_chat_slot() -> None:
    stream = a_live_stream(
        visibility="public", title="Night <b>train</b>", summary="Trains.", tags=["rail", "live"]
    )
    write_static_hls(stream)

    response = Client().get(f"/live/{stream.slug}")
    html = response.content.decode()

    assert response.status_code == 200
    assert "Night &lt;b&gt;train&lt;/b&gt;" in html  # escaped, never markup
    assert "Trains." in html and "<li>rail</li>" in html
    assert '<section id="chat"' in html
    assert 'data-state="live"' in html
    assert "vendor/hls.js/hls.min.js" in html


def test_the_watch_page_of_a_stream_that_is_not_live_shows_the_offline_state() -> None:
    stream = a_live_stream(visibility="public", live=False)

    html = Client().get(f"/live/{stream.slug}").content.decode()

    assert 'data-state="offline"' in html and 'id="live-offline">' in html


def test_the_operator_of_a_private_stream_gets_a_watch_link_that_works_signed_out() -> None:
    stream = a_live_stream(visibility="private", owner=UserFactory(role=Role.OPERATOR))
    write_static_hls(stream)

    html = _signed_in(stream.owner).get(f"/live/{stream.slug}").content.decode()
    link = html.split('id="share-link" type="text" readonly value="')[1].split('"')[0]
    path = link.replace("http://testserver", "").replace("&amp;", "&")

    assert Client().get(path).status_code == 200
    assert Client().get(f"/live/{stream.slug}").status_code == 404


def test_a_private_streams_owner_who_does_not_manage_it_gets_no_watch_link() -> None:
    stream = a_live_stream(visibility="private")  # owned by a Viewer: may watch, not share

    assert "share-link" not in _signed_in(stream.owner).get(f"/live/{stream.slug}").content.decode()


def test_a_viewer_of_an_unlisted_stream_gets_no_watch_link() -> None:
    stream = a_live_stream(visibility="unlisted")

    assert "share-link" not in Client().get(f"/live/{stream.slug}").content.decode()


def test_the_watch_page_shows_page_content_logo_and_only_web_social_links() -> None:
    from apps.media.models import Asset
    from apps.streams.live.services import live_stream_update

    owner: Any = UserFactory(role=Role.OPERATOR)
    stream = a_live_stream(visibility="public", owner=owner)
    logo = Asset.objects.create(
        kind="logo", name="logo", file="assets/logo-x.png", mime="image/png", width=64,
        height=64, sha256="0" * 64, size=100, uploaded_by=owner,
    )  # fmt: skip
    # Through the service, as the API and the admin write it: cleaned by nh3 on the way in.
    live_stream_update(
        actor=owner,
        stream=stream,
        logo=logo,
        page_content="<p>Hello <em>there</em><script>alert(1)</script>"
        '<a href="https://example.org/x" onclick="steal()">site</a></p>',
        social_links=[
            {"platform": "Mastodon", "url": "https://social.example/@me"},
            {"platform": "Evil", "url": "javascript:alert(1)"},
        ],
    )

    html = _signed_in(UserFactory(role=Role.VIEWER)).get(f"/live/{stream.slug}").content.decode()

    assert "<p>Hello <em>there</em>" in html and 'href="https://example.org/x"' in html
    assert "alert(1)" not in html and "steal()" not in html
    assert 'src="/media/assets/logo-x.png"' in html
    assert '<a href="https://social.example/@me" rel="noopener noreferrer me">Mastodon</a>' in html
    assert "javascript:" not in html and ">Evil<" not in html
    # Signed out, /media/ would refuse the logo: no broken image.
    assert "logo-x.png" not in Client().get(f"/live/{stream.slug}").content.decode()
