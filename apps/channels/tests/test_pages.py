"""Viewer pages: /channels (now and next), /channels/{slug} (who may watch), /guide."""

from __future__ import annotations

from datetime import time, timedelta
from typing import Any

import pytest
from django.test import Client

from apps.channels.models import BlockMode, Channel, ItemKind, Playlist, PlaylistItem, ScheduleBlock
from apps.channels.selectors import playout_at
from apps.channels.services.playout import playout_rebuild
from apps.channels.tests.conftest import ClipLibrary

pytestmark = pytest.mark.django_db


def make_channels(library: ClipLibrary) -> list[Channel]:
    """A public channel flooding the news folder, a private and an unlisted one."""
    news = Playlist.objects.create(name="News")
    PlaylistItem.objects.create(
        playlist=news, kind=ItemKind.FOLDER, source=library.source, folder="Morning News"
    )
    made = []
    for number, slug, visibility in [(1, "one", "public"), (2, "two", "private"),
                                     (3, "three", "unlisted")]:  # fmt: skip
        channel = Channel.objects.create(
            number=number, name=f"Channel {slug}", slug=slug, visibility=visibility
        )
        ScheduleBlock.objects.create(
            channel=channel, playlist=news, start_time=time(0), mode=BlockMode.FLOOD
        )
        playout_rebuild(channel=channel, horizon=timedelta(hours=12))
        made.append(channel)
    return made


@pytest.fixture
def channels(clip_library: ClipLibrary) -> list[Channel]:
    return make_channels(clip_library)


def test_the_list_shows_public_channels_with_now_and_next(
    client: Client, channels: list[Channel]
) -> None:
    page = client.get("/channels").content.decode()
    now = playout_at(channels[0])
    assert now is not None
    assert 'data-slug="one"' in page and 'data-slug="two"' not in page
    assert 'data-slug="three"' not in page
    assert now.row.title in page and "Nothing scheduled" not in page


def test_signed_in_users_also_see_private_channels(
    client: Client, channels: list[Channel], viewer_user: Any
) -> None:
    client.force_login(viewer_user)
    page = client.get("/channels").content.decode()
    assert 'data-slug="two"' in page and 'data-slug="three"' not in page


def test_an_unlisted_channel_opens_only_with_its_token(
    client: Client, channels: list[Channel]
) -> None:
    unlisted = channels[2]
    assert client.get("/channels/three").status_code == 404
    assert client.get("/channels/three?token=wrong").status_code == 404
    page = client.get(f"/channels/three?token={unlisted.url_token}")
    assert page.status_code == 200
    assert f'src="/channels/three/index.m3u8?token={unlisted.url_token}"' in page.content.decode()


def test_a_private_channel_needs_a_signed_in_user(
    client: Client, channels: list[Channel], viewer_user: Any
) -> None:
    assert client.get("/channels/two").status_code == 404
    client.force_login(viewer_user)
    page = client.get("/channels/two").content.decode()
    assert 'id="channel-video"' in page and "Now" in page


def test_the_guide_marks_the_programme_on_now(client: Client, channels: list[Channel]) -> None:
    page = client.get("/guide?hours=2").content.decode()
    assert 'id="guide-now"' in page and page.count("guide-programme on-now") == 1
    assert client.get("/guide?hours=999").status_code == 200  # clamped, not an error
