"""/api/status while ffmpeg publishes to CastCore's nginx-rtmp, and after it stops.

Real nginx-rtmp (its callbacks to a live test server) and a real ffmpeg publisher;
no worker runs, so the transcode never starts: the status is the ingest's.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from apps.streams.live.models import LiveSession
from apps.streams.live.services import live_session_end_after_grace
from apps.streams.live.tests.conftest import Ingest
from apps.streams.live.tests.factories import live_stream
from apps.streams.live.tests.publisher import publish, stop
from apps.streams.live.viewers import viewer_samples_record
from apps.streams.tests.helpers import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _status(base: str) -> dict[str, Any]:
    return dict(Client().get(f"{base}/api/status").json())


def test_status_follows_a_real_publish_on_its_own_base_only(
    ingest: Ingest, operator_user: Any, settings: Any
) -> None:
    red, red_key = live_stream(operator_user, slug="red")
    live_stream(operator_user, slug="blue")
    settings.OWNCAST_DEFAULT_STREAM = "red"
    publisher = publish(ingest.publish_url(red_key))
    try:
        status = wait_until(lambda: (found := _status("/owncast/red"))["online"] and found)
        assert status["lastConnectTime"] and status["lastDisconnectTime"] is None
        assert _status("")["online"] is True  # the root is red's
        assert _status("/owncast/blue")["online"] is False
        # A ping while live counts the caller as a viewer.
        assert Client().get("/owncast/red/api/ping").status_code == 200
        assert _status("/owncast/red")["viewerCount"] == 1
        assert _status("/owncast/red")["sessionMaxViewerCount"] == 1
        viewer_samples_record()  # what beat does every CASTCORE_VIEWER_SAMPLE_SECONDS
    finally:
        stop(publisher)
    # Offline once the publisher is gone (the session waits out its grace, then ends:
    # the task's body runs here, as no worker does).
    status = wait_until(lambda: (found := _status("/owncast/red"))["online"] is False and found)
    assert status["viewerCount"] == 0 and status["lastDisconnectTime"] is not None
    session = LiveSession.objects.get(stream=red)
    wait_until(lambda: live_session_end_after_grace(session_id=session.pk), timeout=30)
    ended = _status("/owncast/red")
    assert ended["lastDisconnectTime"] is not None and ended["lastConnectTime"] is None
    assert ended["overallMaxViewerCount"] == 1
