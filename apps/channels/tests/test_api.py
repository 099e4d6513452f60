"""The playlists, channels and schedule-blocks API: validation, RBAC, rebuild on change."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.test import TestCase
from django.utils import timezone

from apps.accounts.models import AuditEntry
from apps.channels.models import Channel, ChannelOutput, Playlist, PlayoutRow
from apps.channels.tests.conftest import ClipLibrary
from workers.channels import rebuild_channel_playout

pytestmark = pytest.mark.django_db

NEWS = "Morning News/Morning News - S01E01 - Opening.mp4"


def _error(response: Any) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


def _playlist(api: Any, name: str = "News", **extra: Any) -> dict[str, Any]:
    response = api.post("/api/v1/playlists", {"name": name, **extra}, format="json")
    assert response.status_code == 201, response.content
    return dict(response.json())


def _channel(api: Any, **fields: Any) -> dict[str, Any]:
    body = {"number": 7, "name": "Seven", "slug": "seven", "time_zone": "Europe/Paris", **fields}
    response = api.post("/api/v1/channels", body, format="json")
    assert response.status_code == 201, response.content
    return dict(response.json())


def test_items_of_every_kind_are_added_in_order(
    operator_api: Any, clip_library: ClipLibrary
) -> None:
    playlist = _playlist(operator_api)
    other = _playlist(operator_api, "Films", order="shuffle")
    url = f"/api/v1/playlists/{playlist['id']}/items"
    bodies = [
        {"kind": "media", "media_item": clip_library[NEWS].pk, "in_point": 5, "out_point": 65},
        {"kind": "folder", "source": clip_library.source.pk, "folder": "/Films/"},
        {"kind": "source", "source": clip_library.source.pk},
        {"kind": "playlist", "playlist": other["id"]},
    ]
    for body in bodies:
        response = operator_api.post(url, body, format="json")
        assert response.status_code == 201, response.content
    items = operator_api.get(f"/api/v1/playlists/{playlist['id']}").json()["items"]
    assert [i["kind"] for i in items] == ["media", "folder", "source", "playlist"]
    assert [i["position"] for i in items] == [0, 1, 2, 3]
    assert items[1]["folder"] == "Films" and items[0]["out_point"] == 65


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"kind": "media"}, "validation.required"),
        ({"kind": "folder", "folder": "x"}, "validation.required"),
        ({"kind": "bogus"}, "validation.invalid_choice"),
        ({"kind": "media", "media_item": 999999}, "validation.does_not_exist"),
        ({"kind": "media", "media_item": "MEDIA", "in_point": 10, "out_point": 5},
         "playlist_item.invalid_points"),
        ({"kind": "media", "media_item": "MEDIA", "out_point": 100000},
         "playlist_item.point_past_end"),
        ({"kind": "media", "media_item": "MEDIA", "in_point": -1}, "validation.min_value"),
        ({"kind": "folder", "source": "SOURCE", "folder": "a/../../etc"},
         "playlist_item.invalid_folder"),
        ({"kind": "source", "source": "SOURCE", "in_point": 3}, "playlist_item.points_need_media"),
    ],
)  # fmt: skip
def test_a_bad_item_is_refused_in_the_envelope_and_nothing_is_written(
    operator_api: Any, clip_library: ClipLibrary, body: dict[str, Any], code: str
) -> None:
    playlist = _playlist(operator_api)
    body = {
        k: (
            clip_library[NEWS].pk
            if v == "MEDIA"
            else clip_library.source.pk
            if v == "SOURCE"
            else v
        )
        for k, v in body.items()
    }
    response = operator_api.post(f"/api/v1/playlists/{playlist['id']}/items", body, format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert code in (error["code"], *[e.get("code") for e in error["params"].get("errors", [])])
    assert not Playlist.objects.get(pk=playlist["id"]).items.exists()


def test_a_playlist_cannot_contain_itself_directly_or_through_another(operator_api: Any) -> None:
    a = _playlist(operator_api, "A")
    b = _playlist(operator_api, "B")
    add = lambda p, c: operator_api.post(  # noqa: E731
        f"/api/v1/playlists/{p['id']}/items", {"kind": "playlist", "playlist": c["id"]},
        format="json",
    )  # fmt: skip
    assert _error(add(a, a)) == (409, "playlist.cycle")
    assert add(a, b).status_code == 201
    assert _error(add(b, a)) == (409, "playlist.cycle")


def test_a_playlist_in_use_is_not_deleted(operator_api: Any) -> None:
    playlist = _playlist(operator_api)
    _channel(operator_api, filler_playlist=playlist["id"])
    response = operator_api.delete(f"/api/v1/playlists/{playlist['id']}")
    assert _error(response) == (409, "playlist.in_use")
    assert response.json()["error"]["params"]["filler_of_channels"] == 1


def test_channel_numbers_and_slugs_are_unique(operator_api: Any) -> None:
    _channel(operator_api)
    again = operator_api.post(
        "/api/v1/channels", {"number": 7, "name": "x", "slug": "x"}, format="json"
    )
    assert _error(again) == (409, "channel.number_taken")
    again = operator_api.post(
        "/api/v1/channels", {"number": 8, "name": "x", "slug": "SEVEN"}, format="json"
    )
    assert _error(again) == (409, "channel.slug_taken")


@pytest.mark.parametrize("zone", ["Mars/Olympus", "../../etc/passwd", "", "UTC+1"])
def test_an_unknown_time_zone_is_refused(operator_api: Any, zone: str) -> None:
    response = operator_api.post(
        "/api/v1/channels",
        {"number": 3, "name": "x", "slug": "x", "time_zone": zone},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] in ("channel.invalid_time_zone", "validation.blank")
    assert not Channel.objects.exists()


def test_the_guide_id_survives_a_renumbering(operator_api: Any) -> None:
    channel = _channel(operator_api)
    response = operator_api.patch(
        f"/api/v1/channels/{channel['id']}", {"number": 70, "name": "Renamed"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["guide_id"] == channel["guide_id"] and response.json()["number"] == 70


def test_restream_keys_are_write_only_and_kept_when_sent_back_masked(operator_api: Any) -> None:
    channel = _channel(
        operator_api,
        outputs=[
            {"kind": "rtmp", "url": "rtmp://live.example/app", "stream_key": "sk-live-123456"}
        ],
    )
    shown = channel["outputs"][0]
    assert shown["stream_key"].endswith("3456") and "sk-live" not in str(channel)
    response = operator_api.patch(
        f"/api/v1/channels/{channel['id']}", {"outputs": [shown]}, format="json"
    )
    assert response.status_code == 200, response.content
    assert ChannelOutput.objects.get().stream_key == "sk-live-123456"
    assert "sk-live-123456" not in str(list(AuditEntry.objects.values_list("changes", flat=True)))


def test_a_non_public_channels_stream_url_carries_its_token(operator_api: Any) -> None:
    public = _channel(operator_api)
    assert public["stream_url"] == "http://testserver/channels/seven/index.m3u8"
    unlisted = _channel(operator_api, number=8, slug="eight", visibility="unlisted")
    token = Channel.objects.get(pk=unlisted["id"]).url_token
    assert unlisted["stream_url"].endswith(f"/channels/eight/index.m3u8?token={token}")


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"mode": "duration"}, 400, "validation.required"),
        ({"mode": "count"}, 400, "validation.required"),
        ({"mode": "flood", "weekdays": 0}, 400, "validation.min_value"),
        ({"mode": "flood", "weekdays": 128}, 400, "validation.max_value"),
        ({"mode": "flood", "start_time": "25:00"}, 400, "validation.invalid"),
    ],
)
def test_a_bad_block_is_refused(
    operator_api: Any, body: dict[str, Any], status: int, code: str
) -> None:
    playlist = _playlist(operator_api)
    channel = _channel(operator_api)
    full = {"channel": channel["id"], "playlist": playlist["id"], "start_time": "06:00", **body}
    response = operator_api.post("/api/v1/schedule-blocks", full, format="json")
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert code in (error["code"], *[e.get("code") for e in error["params"].get("errors", [])])


def test_two_blocks_cannot_start_at_the_same_time_on_the_same_day(operator_api: Any) -> None:
    playlist = _playlist(operator_api)
    channel = _channel(operator_api)
    base = {"channel": channel["id"], "playlist": playlist["id"], "start_time": "06:00"}
    assert operator_api.post("/api/v1/schedule-blocks", {**base, "weekdays": 1}).status_code == 201
    assert operator_api.post("/api/v1/schedule-blocks", {**base, "weekdays": 2}).status_code == 201
    clash = operator_api.post("/api/v1/schedule-blocks", {**base, "weekdays": 3}, format="json")
    assert _error(clash) == (409, "schedule_block.time_taken")


def test_a_block_change_queues_a_rebuild_that_compiles_the_playout(
    operator_api: Any, clip_library: ClipLibrary
) -> None:
    playlist = _playlist(operator_api)
    operator_api.post(
        f"/api/v1/playlists/{playlist['id']}/items",
        {"kind": "folder", "source": clip_library.source.pk, "folder": "Morning News"},
        format="json",
    )
    channel = _channel(operator_api)
    # The flood's block edge half a day away: the two hours read below never reach the
    # black filler that pads the last item before it (whatever the time of day).
    start_time = timezone.localtime(timezone=ZoneInfo("Europe/Paris")) + timedelta(hours=12)
    with TestCase.captureOnCommitCallbacks() as callbacks:
        response = operator_api.post(
            "/api/v1/schedule-blocks",
            {
                "channel": channel["id"],
                "playlist": playlist["id"],
                "start_time": start_time.strftime("%H:%M"),
            },
            format="json",
        )
    assert response.status_code == 201 and len(callbacks) == 1
    rebuild_channel_playout(channel["id"])  # the task body, as the worker runs it
    rows = operator_api.get(f"/api/v1/channels/{channel['id']}/playout?hours=2").json()
    assert rows and all(not r["filler"] or r["media_item"] for r in rows)
    now = operator_api.get(f"/api/v1/channels/{channel['id']}/now").json()
    assert now["row"]["id"] == rows[0]["id"] and now["offset"] >= 0


def test_viewers_read_but_do_not_write(viewer_api: Any, operator_api: Any) -> None:
    channel = _channel(operator_api)
    assert viewer_api.get("/api/v1/channels").json()["total"] == 1
    assert viewer_api.get(f"/api/v1/channels/{channel['id']}/epg.xml").status_code == 200
    assert _error(viewer_api.post("/api/v1/playlists", {"name": "x"}))[0] == 403
    assert _error(viewer_api.delete(f"/api/v1/channels/{channel['id']}"))[0] == 403
    assert _error(viewer_api.post(f"/api/v1/channels/{channel['id']}/rebuild"))[0] == 403
    assert PlayoutRow.objects.count() == 0


def test_a_restream_output_to_a_metadata_address_is_refused(operator_api: Any) -> None:
    response = operator_api.post(
        "/api/v1/channels",
        {"number": 9, "name": "x", "slug": "x",
         "outputs": [{"kind": "rtmp", "url": "rtmp://169.254.169.254/app", "stream_key": "k"}]},
        format="json",
    )  # fmt: skip
    assert _error(response) == (400, "channel.output_address_not_allowed")
    assert not Channel.objects.exists() and not ChannelOutput.objects.exists()


@pytest.mark.parametrize("start", ["9999-12-31T23:00:00Z", "0001-01-01T00:00:00Z"])
def test_a_playout_window_past_the_calendar_is_refused(operator_api: Any, start: str) -> None:
    channel = _channel(operator_api)
    response = operator_api.get(f"/api/v1/channels/{channel['id']}/playout", {"start": start})
    assert _error(response) == (400, "validation.out_of_range")
