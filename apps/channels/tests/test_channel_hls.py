"""/channels/{slug}/index.m3u8 and its segments: who may fetch them, how they are cached,
and an on-demand channel started by its first viewer and stopped when no one watches."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from apps.channels import conf as channels_conf
from apps.channels.models import Channel, ChannelMode, ChannelVisibility
from apps.channels.play import conf
from apps.channels.play.models import ChannelPlayer
from apps.channels.play.paths import hls_dir
from apps.channels.play.services import channel_start, channels_keep_playing
from apps.channels.tests.play_helpers import playing_channel
from apps.streams.models import JobState, StreamJob

pytestmark = pytest.mark.django_db

PLAYLIST = (
    "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:41\n"
    "#EXTINF:2.000000,\nsegment_00041.ts\n#EXTINF:2.000000,\nsegment_00042.ts\n"
)
# As served: no join before the first segment (RFC 8216's discontinuity sequence, live.py).
SERVED = PLAYLIST.replace("SEQUENCE:41\n", "SEQUENCE:41\n#EXT-X-DISCONTINUITY-SEQUENCE:0\n")


@pytest.fixture
def var(tmp_path: Path, settings: Any) -> Path:
    settings.VAR_DIR = tmp_path
    return tmp_path


def _playing(channel: Channel) -> None:
    folder = hls_dir(channel.pk)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "index.m3u8").write_text(PLAYLIST)
    (folder / "segment_00041.ts").write_bytes(b"G" * 188 * 4)
    (folder / "segment_00042.ts").write_bytes(b"G" * 188 * 4)


def test_a_public_channel_is_served_to_anyone_with_its_cache_rules(
    var: Path, client: Client
) -> None:
    channel = playing_channel()
    _playing(channel)
    playlist = client.get("/channels/colours/index.m3u8")
    assert playlist.status_code == 200
    assert playlist["Content-Type"] == "application/vnd.apple.mpegurl"
    assert playlist["Cache-Control"] == "public, no-cache"
    assert playlist.content.decode() == SERVED
    segment = client.get("/channels/colours/segment_00041.ts")
    assert segment.status_code == 200 and segment["Content-Type"] == "video/mp2t"
    assert segment["Cache-Control"] == "public, max-age=31536000, immutable"
    assert b"".join(segment.streaming_content) == b"G" * 188 * 4  # type: ignore[attr-defined]


@pytest.mark.parametrize("visibility", [ChannelVisibility.UNLISTED, ChannelVisibility.PRIVATE])
def test_other_channels_need_their_token_which_the_playlist_passes_on(
    var: Path, client: Client, visibility: str
) -> None:
    channel = playing_channel(visibility=visibility)
    _playing(channel)
    assert client.get("/channels/colours/index.m3u8").status_code == 404
    assert client.get("/channels/colours/index.m3u8?token=wrong").status_code == 404
    assert client.get("/channels/colours/segment_00041.ts").status_code == 404
    playlist = client.get(f"/channels/colours/index.m3u8?token={channel.url_token}")
    assert playlist.status_code == 200 and playlist["Cache-Control"] == "private, no-cache"
    assert f"segment_00041.ts?token={channel.url_token}\n" in playlist.content.decode()
    segment = client.get(f"/channels/colours/segment_00041.ts?token={channel.url_token}")
    assert segment.status_code == 200
    assert segment["Cache-Control"] == "private, max-age=31536000, immutable"


def test_a_private_channel_plays_for_signed_in_users(
    var: Path, client: Client, viewer_user: Any
) -> None:
    channel = playing_channel(visibility=ChannelVisibility.PRIVATE)
    _playing(channel)
    client.force_login(viewer_user)
    assert client.get("/channels/colours/index.m3u8").status_code == 200


@pytest.mark.parametrize(
    "name", ["index.m3u8.tmp", "segment_1.ts", "../../etc/passwd", "segment_00041.mp4", "x.ts"]
)
def test_only_segment_names_are_served(var: Path, client: Client, name: str) -> None:
    channel = playing_channel()
    _playing(channel)
    (hls_dir(channel.pk) / "x.ts").write_bytes(b"x")
    assert client.get(f"/channels/colours/{name}").status_code == 404


def test_a_disabled_or_unknown_channel_is_a_404(var: Path, client: Client) -> None:
    channel = playing_channel(enabled=False)
    _playing(channel)
    assert client.get("/channels/colours/index.m3u8").status_code == 404
    assert client.get("/channels/nothing/index.m3u8").status_code == 404


def test_a_channel_not_playing_yet_asks_players_to_retry(var: Path, client: Client) -> None:
    playing_channel()
    response = client.get("/channels/colours/index.m3u8")
    assert response.status_code == 503 and response["Retry-After"]
    assert response["Cache-Control"] == "no-store"


def test_an_on_demand_channel_starts_on_its_first_viewer_and_stops_when_idle(
    var: Path, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No worker plays it here: the first viewer is held this long, then told to retry.
    monkeypatch.setattr(channels_conf, "CHANNEL_START_WAIT_SECONDS", 0.2)
    channel = playing_channel(mode=ChannelMode.ON_DEMAND)
    response = client.get("/channels/colours/index.m3u8")
    assert response.status_code == 503 and response["Retry-After"] == "2"
    player = ChannelPlayer.objects.get(channel=channel)
    assert player.wanted and player.last_viewer_at is not None
    assert StreamJob.objects.get(pk=player.job_id).state == JobState.STARTING
    # Watched recently: it keeps playing.
    assert channels_keep_playing()["stopped"] == 0
    later = timezone.now() + timedelta(seconds=conf.IDLE_SECONDS + 1)
    assert channels_keep_playing(now=later) == {"started": 0, "stopped": 1, "deleted": 0}
    player.refresh_from_db()
    assert not player.wanted
    assert StreamJob.objects.get(pk=player.job_id).state == JobState.STOPPED


def test_an_always_on_channel_whose_job_stopped_is_started_again(var: Path) -> None:
    channel = playing_channel()
    player = channel_start(actor=None, channel=channel)
    StreamJob.objects.filter(pk=player.job_id).update(state=JobState.FAILED)
    assert channels_keep_playing() == {"started": 1, "stopped": 0, "deleted": 0}
    assert StreamJob.objects.get(pk=player.job_id).state == JobState.STARTING


def test_a_channel_without_an_output_profile_cannot_start(var: Path) -> None:
    channel = playing_channel()
    Channel.objects.filter(pk=channel.pk).update(output_profile=None)
    channel.refresh_from_db()
    from castcore.api.errors import ApiError

    with pytest.raises(ApiError) as refused:
        channel_start(actor=None, channel=channel)
    assert refused.value.code == "channel.profile_required"
    assert not ChannelPlayer.objects.exists()


def test_the_stream_jobs_api_does_not_make_channel_jobs(operator_api: Any) -> None:
    from apps.streams.tests.factories import new_profile

    response = operator_api.post(
        "/api/v1/stream-jobs",
        {"name": "sneaky", "input_kind": "channel", "profile": new_profile().pk,
         "outputs": [{"kind": "udp", "url": "udp://127.0.0.1:9"}]},
        format="json",
    )  # fmt: skip
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation.invalid_choice"
    assert "channel" not in response.json()["error"]["params"]["allowed"]


def test_playlist_polls_note_the_viewer_in_the_database_once_in_a_while(
    var: Path, client: Client
) -> None:
    channel = playing_channel()
    player = channel_start(actor=None, channel=channel)
    _playing(channel)
    assert client.get("/channels/colours/index.m3u8").status_code == 200
    noted = ChannelPlayer.objects.get(pk=player.pk).last_viewer_at
    assert noted is not None
    for _ in range(5):  # a player polling every segment
        assert client.get("/channels/colours/index.m3u8").status_code == 200
    assert ChannelPlayer.objects.get(pk=player.pk).last_viewer_at == noted
    cache.delete(f"channels:viewer_seen:{channel.pk}")  # the note's time has passed
    assert client.get("/channels/colours/index.m3u8").status_code == 200
    again = ChannelPlayer.objects.get(pk=player.pk).last_viewer_at
    assert again is not None and again > noted
