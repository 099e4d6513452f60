"""/api/admin/config/*: each setter lands on the stream (or its Owncast settings) and shows
in Owncast's reads; the instance's settings are accepted unchanged only; wrong values get
Owncast's `{"success": false}`. HTML and CSS are cleaned before they are stored."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from apps.owncast.admin.config import SETTERS
from apps.owncast.models import StreamOwncastSettings
from apps.owncast.tests.admin_client import Admin, basic, bearer
from apps.streams.live import conf as live_conf
from apps.streams.live.models import LiveStream

pytestmark = pytest.mark.django_db

OK = {"success": True, "message": "changed"}


@pytest.fixture
def red(streams: dict[str, Any]) -> Admin:
    return Admin("red", basic(streams["red_key"]))


def _stream(slug: str = "red") -> LiveStream:
    return LiveStream.objects.get(slug=slug)


def test_the_streams_own_settings_land_on_the_stream(red: Admin, streams: dict[str, Any]) -> None:
    assert red.set("name", "Red Room").json() == OK
    assert red.set("streamtitle", "Desert Bus").json() == OK
    assert red.set("serversummary", "The best in Desert Bus streaming").json() == OK
    assert red.set("tags", ["games", "music"]).json() == OK
    assert red.set("nsfw", True).json() == OK
    handles = [{"platform": "github", "url": "https://github.com/owncast/owncast"}]
    assert red.set("socialhandles", handles).json() == OK
    assert red.set("video/streamlatencylevel", 4).json() == OK
    stream = _stream()
    assert (stream.name, stream.title, stream.tags, stream.nsfw) == (
        "Red Room", "Desert Bus", ["games", "music"], True,
    )  # fmt: skip
    assert stream.summary == "The best in Desert Bus streaming"
    # serverconfig has it as set; /api/config renders it (Markdown), as Owncast does.
    config = red.get("serverconfig").json()["instanceDetails"]
    assert config["summary"] == "The best in Desert Bus streaming"
    assert stream.social_links == handles and stream.latency_level == 4
    public = Client().get("/owncast/red/api/config").json()
    assert (public["name"], public["streamTitle"]) == ("Red Room", "Desert Bus")
    assert public["socialHandles"] == handles and public["tags"] == ["games", "music"]
    # The other stream is untouched.
    blue = _stream("blue")
    assert (blue.name, blue.title, blue.nsfw) == ("Blue", "Blue title", False)


def test_owncasts_zero_is_not_set_in_a_variant(red: Admin) -> None:
    zeros = [{"videoBitrate": 0, "framerate": 42, "cpuUsageLevel": 2, "scaledHeight": 0,
              "scaledWidth": 0}, {"scaledWidth": 301, "videoBitrate": 300}]  # fmt: skip
    assert red.set("video/streamoutputvariants", zeros).json() == OK
    first, second = _stream().variants
    assert (first["height"], first["video_bitrate_kbps"], first["fps"]) == (360, 800, 42)
    assert (second["width"], second["height"]) == (300, 168)  # even, 16:9
    shown = red.get("serverconfig").json()["videoSettings"]["videoQualityVariants"][0]
    assert shown["framerate"] == 42 and shown["cpuUsageLevel"] == 2


def test_output_variants_become_the_streams_ladder(red: Admin) -> None:
    variants = [
        {"framerate": 30, "videoPassthrough": False, "videoBitrate": 1800, "cpuUsageLevel": 2,
         "audioPassthrough": True, "scaledHeight": 720},
        {"framerate": 24, "videoPassthrough": False, "videoBitrate": 1000, "cpuUsageLevel": 3,
         "audioPassthrough": True, "scaledHeight": 360},
    ]  # fmt: skip
    assert red.set("video/streamoutputvariants", variants).json() == OK
    ladder = _stream().variants
    assert [(v["height"], v["video_bitrate_kbps"], v["fps"]) for v in ladder] == [
        (720, 1800, 30), (360, 1000, 24),
    ]  # fmt: skip
    shown = red.get("serverconfig").json()["videoSettings"]["videoQualityVariants"]
    assert [(v["scaledHeight"], v["videoBitrate"], v["framerate"]) for v in shown] == [
        (720, 1800, 30), (360, 1000, 24),
    ]  # fmt: skip
    # A variant the ladder cannot encode is refused, naming the field; the ladder stays.
    refused = red.set("video/streamoutputvariants", [{"videoBitrate": 10, "scaledHeight": 360}])
    assert refused.status_code == 400 and refused.json()["success"] is False
    assert "variants[0].video_bitrate_kbps" in refused.json()["message"]
    assert _stream().variants == ladder


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("nsfw", "yes"), ("tags", "games"), ("tags", [1, 2]), ("video/streamlatencylevel", 9),
        ("video/streamlatencylevel", True), ("name", ""), ("name", 42), ("streamtitle", None),
        ("socialhandles", [{"platform": "x", "url": "javascript:alert(1)"}]),
        ("externalactions", [{"title": "t", "url": "javascript:alert(1)"}]),
        ("chat/disable", "no"),
        ("video/streamoutputvariants", [{"scaledWidth": "abc"}]),
        ("video/streamoutputvariants", [{"scaledHeight": 1.5}]),
        ("video/streamoutputvariants", [{"videoBitrate": True}]),
        ("video/streamoutputvariants", [{"framerate": "30"}]),
        ("video/streamoutputvariants", [{"audioBitrate": [128]}]),
    ],
)  # fmt: skip
def test_a_wrong_value_is_owncasts_failure_and_changes_nothing(
    red: Admin, setting: str, value: Any
) -> None:
    before = LiveStream.objects.filter(slug="red").values().get()
    response = red.set(setting, value)
    assert response.status_code == 400
    assert response.json()["success"] is False and response.json()["message"]
    assert LiveStream.objects.filter(slug="red").values().get() == before
    assert not StreamOwncastSettings.objects.exists()


WRONG_TYPES = ["abc", 7, True, None, [], ["x"], [None], {"a": {"b": 1}}, [{"scaledWidth": {}}]]


@pytest.mark.parametrize("setting", sorted(SETTERS))
def test_no_setter_answers_500_to_a_value_of_the_wrong_type(red: Admin, setting: str) -> None:
    for value in WRONG_TYPES:
        response = red.set(setting, value)
        assert response.status_code in (200, 400), (setting, value, response.content[:300])
        assert isinstance(response.json()["success"], bool), (setting, value)
    # A body that is not Owncast's {"value": …} at all.
    for body in ['"abc"', "[1, 2]", "null", "{}", '{"value": {"value": []}}']:
        response = red.client.post(
            red.base + f"config/{setting}", body, content_type="application/json", **red.headers
        )
        assert response.status_code in (200, 400), (setting, body, response.content[:300])


def test_owncast_only_settings_are_kept_per_stream(red: Admin) -> None:
    actions = [
        {"url": "https://example.org/donate", "title": "Donate", "description": "thanks",
         "icon": "https://example.org/i.png", "color": "#ff0000", "openExternally": True},
    ]  # fmt: skip
    # 0.0.10 posts external actions as the list itself; {"value": […]} is taken too.
    response = red.client.post(
        red.base + "config/externalactions", actions, content_type="application/json",
        **red.headers,
    )  # fmt: skip
    assert response.json() == OK
    assert red.set("welcomemessage", "Hello <b>there</b>").json() == OK
    assert red.set("chat/disable", True).json() == OK
    assert red.set("chat/joinmessagesenabled", False).json() == OK
    settings_row = StreamOwncastSettings.objects.get(stream__slug="red")
    assert settings_row.external_actions == actions
    assert settings_row.chat_disabled is True and settings_row.chat_join_messages is False
    config = red.get("serverconfig").json()
    assert config["externalActions"] == actions and config["chatDisabled"] is True
    assert config["instanceDetails"]["welcomeMessage"] == "Hello <b>there</b>"
    public = Client().get("/owncast/red/api/config").json()
    assert public["externalActions"] == actions and public["chatDisabled"] is True
    assert not StreamOwncastSettings.objects.filter(stream__slug="blue").exists()


def test_instance_settings_are_accepted_unchanged_and_refused_otherwise(red: Admin) -> None:
    config = red.get("serverconfig").json()
    same = {
        "ffmpegpath": config["ffmpegPath"],
        "webserverport": config["webServerPort"],
        "rtmpserverport": live_conf.RTMP_PORT,
        "serverurl": config["yp"]["instanceUrl"],
        "directoryenabled": False,
        "video/codec": "libx264",
        "chat/suggestedusernames": [],
    }
    for setting, value in same.items():
        assert red.set(setting, value).json() == {"success": True, "message": "unchanged"}, setting
    other = {
        "ffmpegpath": "/home/owncast/ffmpeg", "webserverport": 8080, "rtmpserverport": 1936,
        "serverurl": "https://live.example.org", "directoryenabled": True,
        "video/codec": "h264_nvenc", "chat/suggestedusernames": ["pizza"],
        "webserverip": "127.0.0.1",
    }  # fmt: skip
    for setting, value in other.items():
        response = red.set(setting, value)
        assert response.status_code == 400, setting
        body = response.json()
        assert body["success"] is False and body["message"].startswith("not changed per stream")


def test_s3_and_forbidden_names_are_kept_per_stream_and_reported(
    red: Admin, streams: dict[str, Any]
) -> None:
    s3 = {
        "enabled": True,
        "endpoint": "https://s3.example.org",
        "accessKey": "AK",
        "secret": "s3-secret-value",
        "bucket": "video",
        "region": "r1",
        "forcePathStyle": True,
    }
    assert red.set("s3", s3).json() == OK
    assert red.set("chat/forbiddenusernames", ["alpha", "beta"]).json() == OK
    config = red.get("serverconfig").json()
    assert {k: config["s3"][k] for k in s3} == s3
    assert config["forbiddenUsernames"] == ["alpha", "beta"]
    stored = StreamOwncastSettings.objects.get(stream__slug="red").extra
    assert "s3-secret-value" not in str(stored)  # encrypted at rest
    token = red.post("accesstokens/create", {"name": "b", "scopes": ["HAS_ADMIN_ACCESS"]}).json()
    as_bot = Admin("red", bearer(token["accessToken"])).get("serverconfig").json()
    assert as_bot["s3"]["secret"] != "s3-secret-value" and as_bot["s3"]["bucket"] == "video"
    blue = Admin("blue", basic(streams["blue_key"])).get("serverconfig").json()
    assert blue["s3"]["enabled"] is False and "alpha" not in blue["forbiddenUsernames"]


def test_the_logo_is_uploaded_as_a_data_uri(red: Admin, tmp_path: Path) -> None:
    png = tmp_path / "logo.png"
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
         "testsrc=size=64x64", "-frames:v", "1", str(png)],
        check=True, timeout=60,
    )  # fmt: skip
    uri = "data:image/png;base64," + base64.b64encode(png.read_bytes()).decode()
    assert red.set("logo", uri).json() == OK
    stream = _stream()
    assert stream.logo is not None and stream.logo.kind == "logo"
    logo = Client().get("/owncast/red/api/config").json()["logo"]
    assert logo and red.set("logo", logo).json() == {"success": True, "message": "unchanged"}
    # Not an image, and not a data URI: refused, the logo stays.
    junk = "data:image/png;base64," + base64.b64encode(b"<svg onload=alert(1)>").decode()
    assert red.set("logo", junk).json()["success"] is False
    assert red.set("logo", "/img/mylogo.png").json()["success"] is False
    assert _stream().logo_id == stream.logo_id
