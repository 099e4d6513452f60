"""Recording and stream pages, /explore: private for owners, unlisted by token, public listed."""

from __future__ import annotations

import pytest
from django.test import Client

from apps.recordings.tests.factories import a_recording, a_stream, a_video

pytestmark = pytest.mark.django_db


def test_a_public_terminal_recording_page_loads_the_player() -> None:
    recording = a_recording(visibility="public", description="<script>x</script>*hi*")
    page = Client().get(f"/r/{recording.pk}")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="player"' in html and "vendor/asciinema-player/asciinema-player.min.js" in html
    assert f"/r/{recording.pk}.cast" in html
    assert "<em>hi</em>" in html and "<script>x</script>" not in html


def test_a_video_recording_page_plays_the_playable_copy_with_its_poster() -> None:
    recording = a_video(
        visibility="unlisted", playable_file="recordings/video/v.playable.mp4", poster="p.jpg"
    )
    html = Client().get(f"/r/{recording.url_token}").content.decode()
    key = recording.url_token
    assert (
        f'<video id="video" controls playsinline preload="metadata" src="/r/{key}/video.mp4"'
        f' poster="/r/{key}/poster.jpg"></video>'
    ) in html
    assert f'href="/r/{key}.mp4" download' in html  # the original, as recorded


def test_a_video_without_its_playable_copy_yet_says_so() -> None:
    recording = a_video(visibility="unlisted")
    html = Client().get(f"/r/{recording.url_token}").content.decode()
    assert "<video" not in html and "being prepared for playback" in html


def test_unlisted_needs_the_token_and_private_needs_the_owner() -> None:
    unlisted = a_recording(visibility="unlisted")
    private = a_recording(visibility="private")
    assert Client().get(f"/r/{unlisted.pk}").status_code == 404
    assert Client().get(f"/r/{unlisted.url_token}").status_code == 200
    assert Client().get(f"/r/{private.url_token}").status_code == 404
    owner = Client()
    owner.force_login(private.owner)
    assert owner.get(f"/r/{private.url_token}").status_code == 200


def test_explore_lists_public_recordings_only() -> None:
    public = a_recording(visibility="public", title="Public one")
    a_recording(visibility="unlisted", title="Unlisted one")
    html = Client().get("/explore").content.decode()
    assert "Public one" in html and f'href="/r/{public.pk}"' in html and "Unlisted one" not in html


def test_stream_pages_follow_visibility_and_carry_the_viewer_socket() -> None:
    public = a_stream(visibility="public")
    private = a_stream(visibility="private")
    html = Client().get(f"/s/{public.pk}").content.decode()
    assert f"ws://testserver/ws/s/{public.url_token}" in html and public.producer_token not in html
    assert Client().get(f"/s/{private.url_token}").status_code == 404
    owner = Client()
    owner.force_login(private.owner)
    assert "?ticket=" in owner.get(f"/s/{private.url_token}").content.decode()
