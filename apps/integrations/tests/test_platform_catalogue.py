"""The platform catalogue is where the command preview's platform rules come from."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from apps.integrations.platforms import catalogue
from apps.streams.tests.factories import new_profile
from workers.ffmpeg.preview_rules import PlatformRule

pytestmark = pytest.mark.django_db


def _preview(api: APIClient, url: str, **profile: object) -> dict[str, dict[str, object]]:
    body = {
        "name": "p",
        "input_kind": "test_pattern",
        "profile": new_profile(**profile).pk,
        "outputs": [{"kind": "rtmp", "url": url, "stream_key": "live_abcdefgh1234"}],
    }
    response = api.post("/api/v1/ffmpeg/preview", {"job": body}, format="json")
    assert response.status_code == 200, response.json()
    return {w["code"]: w["params"] for w in response.json()["warnings"]}


def test_the_preview_applies_the_catalogue_rule_of_the_output_host(
    operator_api: APIClient,
) -> None:
    warnings = _preview(
        operator_api,
        "rtmp://live.twitch.tv/app",
        video_bitrate_kbps=8000,
        height=720,
        width=1280,
    )
    assert warnings["preview.bitrate_above_platform_max"]["max_kbps"] == 4500
    assert warnings["preview.bitrate_above_platform_max"]["platform"] == "twitch"


def test_a_changed_catalogue_rule_changes_the_preview(
    operator_api: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    strict = PlatformRule(
        "twitch", ("twitch.tv",), 2.0, ((4320, 1000),), audio_sample_rates=(48000,)
    )
    monkeypatch.setattr(catalogue, "preview_rules", lambda: (strict,))
    from apps.streams import preview

    monkeypatch.setattr(preview, "preview_rules", lambda: (strict,))
    warnings = _preview(
        operator_api,
        "rtmp://live.twitch.tv/app",
        video_bitrate_kbps=2000,
        height=720,
        width=1280,
        audio_sample_rate=44100,
    )
    assert warnings["preview.bitrate_above_platform_max"]["max_kbps"] == 1000
    assert warnings["preview.platform_audio_sample_rate"]["allowed"] == [48000]


def test_a_host_no_platform_claims_gets_no_platform_warning(operator_api: APIClient) -> None:
    warnings = _preview(
        operator_api, "rtmp://127.0.0.1/live", video_bitrate_kbps=80000, height=720, width=1280
    )
    assert "preview.bitrate_above_platform_max" not in warnings


def test_every_platform_with_rules_has_an_ingest_server() -> None:
    for platform in catalogue.CATALOGUE:
        if platform.rule is not None:
            assert platform.ingest_servers, platform.type
            assert platform.rule.name == platform.type.value


@pytest.mark.parametrize(
    "server",
    [(p, s) for p in catalogue.CATALOGUE for s in p.ingest_servers],
    ids=lambda ps: f"{ps[0].type.value}:{ps[1].label}",
)
def test_every_default_ingest_server_passes_its_own_platforms_rules(
    server: tuple[catalogue.Platform, catalogue.IngestServer],
) -> None:
    from apps.integrations.platforms.services import ingest_url_problem
    from workers.ffmpeg.preview_rules import platform_for
    from workers.ffmpeg.spec import RtmpOutput

    platform, ingest = server
    assert ingest_url_problem(ingest.url) is None
    # The preview recognises the server as its own platform's (not another's, not none)…
    rule = platform_for(RtmpOutput(url=ingest.url, stream_key="k"), catalogue.preview_rules())
    assert rule is platform.rule
    # …and the server's scheme is one the rule accepts.
    assert platform.rule is not None
    assert not (platform.rule.requires_rtmps and ingest.url.startswith("rtmp:"))
