"""/api/admin/status and /api/admin/disconnect with a real publish: ffmpeg sends a test
pattern over RTMP to CastCore's nginx-rtmp, whose callbacks a live test server answers.
The broadcaster's details are what the live app read from that ingest."""

from __future__ import annotations

from typing import Any

import pytest

from apps.owncast.tests.admin_client import Admin, basic
from apps.streams.live.models import LiveSession
from apps.streams.live.tests.conftest import Ingest, ingest, ingest_ports  # noqa: F401
from apps.streams.live.tests.publisher import publish, stop
from apps.streams.models import StreamRun
from apps.streams.tests.helpers import wait_until
from workers.live_streams import read_live_session_inbound

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_status_shows_the_broadcaster_and_disconnect_ends_the_publish(
    ingest: Ingest,  # noqa: F811
    streams: dict[str, Any],
) -> None:
    red = Admin("red", basic(streams["red_key"]))
    offline = red.get("status").json()
    assert offline["online"] is False and offline["broadcaster"] is None
    publisher = publish(ingest.publish_url(streams["red_key"]))
    try:
        session = wait_until(lambda: LiveSession.objects.filter(stream=streams["red"]).first())
        # The encoder's figures, as the live app's task stores them a few seconds in.
        wait_until(lambda: read_live_session_inbound(session.pk) and True, timeout=20)
        status = red.get("status").json()
        assert status["online"] is True and status["streamTitle"] == "Red title"
        broadcaster = status["broadcaster"]
        assert broadcaster["remoteAddr"] == "127.0.0.1" and broadcaster["time"]
        details = broadcaster["streamDetails"]
        assert (details["width"], details["height"], details["framerate"]) == (320, 180, 25)
        assert (details["videoCodec"], details["audioCodec"]) == ("H.264", "AAC")
        # What the publisher declares (-b:v 300k, -b:a 64k), in Owncast's kbit/s (x1024).
        assert details["videoBitrate"] == 292 and details["audioBitrate"] == 62
        assert Admin("blue", basic(streams["blue_key"])).get("status").json()["online"] is False

        response = red.post("disconnect", {})
        assert response.json() == {"success": True, "message": "inbound stream disconnected"}
        assert publisher.wait(20) is not None  # nginx dropped it
        session.refresh_from_db()
        assert session.ended_at is not None
        assert red.get("status").json()["broadcaster"] is None
        again = red.post("disconnect", {})
        assert again.status_code == 400 and again.json()["success"] is False
    finally:
        stop(publisher)


def test_logs_are_the_jobs_run_logs_with_secrets_masked(streams: dict[str, Any]) -> None:
    from castcore.secrets import remember

    secret = "restream-key-" + "q" * 20
    remember(secret)
    job = streams["red"].job
    StreamRun.objects.create(
        job=job, number=1, fencing_token=1,
        log_tail=[
            {"level": "info", "line": "Input #0, flv, from 'rtmp://127.0.0.1/live/stream-1'"},
            {"level": "warning", "line": f"rtmp://a.example/live/{secret}: Connection refused"},
            {"level": "error", "line": "[castcore] [error] giving up"},
        ],
    )  # fmt: skip
    red = Admin("red", basic(streams["red_key"]))
    logs = red.get("logs").json()
    assert [entry["level"] for entry in logs] == ["info", "warning", "error"]
    assert all(entry["time"] for entry in logs)
    assert secret not in str(logs) and "Connection refused" in logs[1]["message"]
    warnings = red.get("logs/warnings").json()
    assert [entry["level"] for entry in warnings] == ["warning", "error"]
    assert Admin("blue", basic(streams["blue_key"])).get("logs").json() == []
