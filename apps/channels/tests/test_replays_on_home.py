"""Published public replays are on the home page; drafts and others' private ones are not."""

from __future__ import annotations

import pytest
from django.test import Client

from apps.channels.tests.factories import a_replay
from apps.recordings.models import Visibility

pytestmark = pytest.mark.django_db


def test_the_home_page_lists_public_published_replays_escaped(client: Client) -> None:
    shown = a_replay(title='Finals <b>& "more"</b>', description="The whole match")
    a_replay(title="draft replay", published_at=None)
    a_replay(title="unlisted replay", visibility=Visibility.UNLISTED)
    a_replay(title="private replay", visibility=Visibility.PRIVATE)
    page = client.get("/").content.decode()
    assert 'id="replays"' in page
    assert "Finals &lt;b&gt;&amp; &quot;more&quot;&lt;/b&gt;" in page
    assert f'href="/r/{shown.recording.url_token}"' in page
    for hidden in ("draft replay", "unlisted replay", "private replay"):
        assert hidden not in page


def test_no_replays_no_section(client: Client) -> None:
    assert 'id="replays"' not in client.get("/").content.decode()


def test_a_hidden_recordings_replay_is_not_listed(client: Client) -> None:
    from django.utils import timezone

    replay = a_replay(title="gone soon")
    replay.recording.hidden_at = timezone.now()
    replay.recording.save()
    assert "gone soon" not in client.get("/").content.decode()
