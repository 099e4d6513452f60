"""A producer that vanished (host or web process died, no close) does not leave a stream live."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.test import Client
from django.utils import timezone

from apps.recordings import conf
from apps.recordings.models import Recording, TerminalStream
from apps.recordings.stream_services import stream_recording_start
from apps.recordings.tests.factories import a_stream, a_user
from apps.recordings.tests.helpers import linked_cli
from workers.recordings import cleanup_unclaimed_recordings, reset_stale_streams

pytestmark = pytest.mark.django_db


def attached(stream: TerminalStream, seconds_ago: float) -> TerminalStream:
    """As a producer socket leaves it: flagged live, last heartbeat `seconds_ago`."""
    TerminalStream.objects.filter(pk=stream.pk).update(
        live=True,
        producer_channel=f"specific.dead!{stream.pk}",
        last_seen_at=timezone.now() - timedelta(seconds=seconds_ago),
    )
    stream.refresh_from_db()
    return stream


def test_a_stream_whose_producer_stopped_beating_is_offline_everywhere() -> None:
    owner = a_user()
    client = linked_cli(owner)
    fresh = attached(a_stream(owner=owner, visibility="public", title="Fresh"), 1)
    gone = attached(
        a_stream(owner=owner, visibility="public", title="Gone"), conf.LIVE_STALE_SECONDS + 1
    )

    assert fresh.is_live and not gone.is_live
    assert client.get(f"/api/v1/streams/{fresh.pk}").json()["live"] is True
    assert client.get(f"/api/v1/streams/{gone.pk}").json()["live"] is False
    assert [s["live"] for s in client.get("/api/v1/user/streams").json()] == [True, False]
    assert "Live now" in Client().get(f"/s/{fresh.pk}").content.decode()
    assert "Offline" in Client().get(f"/s/{gone.pk}").content.decode()
    explore = Client().get("/explore").content.decode()
    assert "Fresh" in explore and "Gone" not in explore


def test_the_retention_task_resets_vanished_producers_and_finishes_their_recording(
    media_root: Path,
) -> None:
    fresh = attached(a_stream(), 1)
    gone = attached(a_stream(record=True), conf.LIVE_STALE_SECONDS + 5)
    recording, path = stream_recording_start(stream_id=gone.pk)
    # What the dead producer had flushed: a header and one event.
    path.write_text('{"version": 3, "term": {"cols": 80, "rows": 24}}\n[0.5, "o", "hi"]\n')

    report = cleanup_unclaimed_recordings()

    assert report["stale_streams_reset"] == 1
    gone.refresh_from_db()
    assert (gone.live, gone.producer_channel, gone.recording_id) == (False, "", None)
    recording.refresh_from_db()
    assert recording.status == Recording.Status.AVAILABLE and recording.duration == 0.5
    fresh.refresh_from_db()
    assert fresh.live and fresh.producer_channel  # its producer is still beating


def test_a_vanished_producer_with_an_unflushed_recording_fails_it_with_a_reason(
    media_root: Path,
) -> None:
    gone = attached(a_stream(record=True), conf.LIVE_STALE_SECONDS + 5)
    recording, path = stream_recording_start(stream_id=gone.pk)
    path.write_text('{"version": 3, "term": {"cols"')  # killed mid-write

    assert reset_stale_streams() == [gone.pk]

    recording.refresh_from_db()
    assert recording.status == Recording.Status.FAILED and recording.reason.startswith("asciicast")


def test_a_stream_never_seen_but_flagged_live_is_reset() -> None:
    stream = a_stream()
    TerminalStream.objects.filter(pk=stream.pk).update(live=True, last_seen_at=None)
    stream.refresh_from_db()
    assert not stream.is_live
    assert reset_stale_streams() == [stream.pk]


def test_the_embedded_web_process_start_resets_streams_attached_before_it(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from celery.signals import beat_init

    from castcore.celery import app

    config = apps.get_app_config("recordings")
    monkeypatch.setattr(config, "started_at", timezone.now() - timedelta(seconds=2))
    before_start = attached(a_stream(), 5)  # still "fresh", but its process is the old one
    after_start = attached(a_stream(), 0)
    sent: list[dict[str, Any]] = []

    def send_task(name: str, kwargs: Any = None, **options: Any) -> None:
        if name == reset_stale_streams.name:
            sent.append(kwargs)

    monkeypatch.setattr(app, "send_task", send_task)

    settings.EMBEDDED_WORKER = False
    beat_init.send(sender=None)
    assert sent == []  # distributed mode: other web processes hold live sockets
    settings.EMBEDDED_WORKER = True
    beat_init.send(sender=None)  # the embedded beat starts with the web process

    (kwargs,) = sent
    assert reset_stale_streams(**kwargs) == [before_start.pk]
    after_start.refresh_from_db()
    assert after_start.live


def test_staleness_must_allow_a_late_heartbeat() -> None:
    import importlib

    from django.core.exceptions import ImproperlyConfigured

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RECORDINGS_LIVE_HEARTBEAT_SECONDS", "30")
        patch.setenv("RECORDINGS_LIVE_STALE_SECONDS", "45")
        with pytest.raises(ImproperlyConfigured, match="twice"):
            importlib.reload(conf)
    importlib.reload(conf)
