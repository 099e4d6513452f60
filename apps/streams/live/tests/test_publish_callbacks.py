"""RTMP publishes through CastCore's nginx-rtmp and its callbacks (real nginx, real ffmpeg).

The callbacks are served by a live test server; no worker runs here, so a started job
stays `starting` with a pending run: what matters is what was (not) started.
Test with a worker: test_publish_end_to_end.py.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from apps.streams.live.models import LiveSession
from apps.streams.live.nginx import read_stat
from apps.streams.live.services import live_sessions_reconcile
from apps.streams.live.tests.conftest import Ingest
from apps.streams.live.tests.factories import live_stream
from apps.streams.live.tests.publisher import publish, stop
from apps.streams.models import JobState, StreamJob, StreamRun
from apps.streams.tests.helpers import wait_until
from workers.live_streams import read_live_session_inbound

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

UDP = {"kind": "udp", "url": "udp://127.0.0.1:9"}


def job_state(job_id: int) -> str:
    return str(StreamJob.objects.get(pk=job_id).state)


def test_the_right_key_opens_a_session_and_starts_the_job(
    ingest: Ingest, operator_user: Any
) -> None:
    stream, key = live_stream(operator_user, outputs=[UDP])
    publisher = publish(ingest.publish_url(key))
    try:
        session = wait_until(lambda: LiveSession.objects.filter(stream=stream).first())
        assert session.ended_at is None and session.protocol == "rtmp"
        assert session.publisher_address == "127.0.0.1" and session.publisher_client_id
        assert job_state(stream.job_id) == JobState.STARTING
        assert StreamRun.objects.filter(job_id=stream.job_id).count() == 1
        assert publisher.poll() is None  # accepted: still publishing

        # Accepted under the stream's internal name: the key is no stream name of nginx's.
        names = wait_until(lambda: (found := read_stat()) and found)
        assert set(names) == {f"stream-{stream.pk}"} and key not in str(names)
        # The encoder's figures, as the task stores them a few seconds into the publish.
        wait_until(lambda: read_live_session_inbound(session.pk) and True, timeout=10)
        session.refresh_from_db()
        assert (session.video_codec, session.width, session.height) == ("H264", 320, 180)
        assert session.audio_codec == "AAC" and round(session.fps or 0) == 25
    finally:
        stop(publisher)


def test_a_wrong_key_is_refused_and_starts_nothing(ingest: Ingest, operator_user: Any) -> None:
    stream, key = live_stream(operator_user, outputs=[UDP])
    publisher = publish(ingest.publish_url("x" + key[1:]))
    try:
        assert publisher.wait(15) != 0
    finally:
        stop(publisher)
    assert not LiveSession.objects.exists()
    assert job_state(stream.job_id) == JobState.STOPPED and not StreamRun.objects.exists()


def test_a_publish_to_the_internal_name_is_refused(ingest: Ingest, operator_user: Any) -> None:
    stream, _ = live_stream(operator_user, outputs=[UDP])
    publisher = publish(ingest.publish_url(f"stream-{stream.pk}"))
    try:
        assert publisher.wait(15) != 0
    finally:
        stop(publisher)
    assert not LiveSession.objects.exists() and not StreamRun.objects.exists()


def test_a_second_publisher_on_a_live_key_is_refused(ingest: Ingest, operator_user: Any) -> None:
    stream, key = live_stream(operator_user, outputs=[UDP])
    first = publish(ingest.publish_url(key))
    try:
        session = wait_until(lambda: LiveSession.objects.filter(stream=stream).first())
        second = publish(ingest.publish_url(key))
        try:
            assert second.wait(15) != 0
        finally:
            stop(second)
        time.sleep(0.5)  # a publish_done for the refused one would arrive by now
        session.refresh_from_db()
        assert first.poll() is None and session.disconnected_at is None
        assert LiveSession.objects.count() == 1 and StreamRun.objects.count() == 1
    finally:
        stop(first)


def test_a_publisher_back_within_the_grace_period_continues_its_session(
    ingest: Ingest, operator_user: Any
) -> None:
    stream, key = live_stream(operator_user, outputs=[UDP])
    first = publish(ingest.publish_url(key))
    session = wait_until(lambda: LiveSession.objects.filter(stream=stream).first())
    stop(first)  # SIGKILL: the connection drops, nginx sends on_publish_done
    wait_until(lambda: LiveSession.objects.get(pk=session.pk).disconnected_at, timeout=10)
    again = publish(ingest.publish_url(key))
    try:
        wait_until(lambda: LiveSession.objects.get(pk=session.pk).disconnected_at is None)
        session.refresh_from_db()
        assert session.reconnects == 1 and session.ended_at is None
        assert LiveSession.objects.count() == 1
        assert StreamRun.objects.filter(job_id=stream.job_id).count() == 1  # the same run
    finally:
        stop(again)


def test_after_the_grace_period_the_session_ends_and_the_job_stops(
    ingest: Ingest, operator_user: Any
) -> None:
    stream, key = live_stream(operator_user, outputs=[UDP])
    publisher = publish(ingest.publish_url(key))
    session = wait_until(lambda: LiveSession.objects.filter(stream=stream).first())
    stop(publisher)
    left = wait_until(lambda: LiveSession.objects.get(pk=session.pk).disconnected_at, timeout=10)
    # Within the grace nothing ends, whoever asks.
    assert live_sessions_reconcile().ended == []
    # After it, the reconciler (beat) ends it, as the delayed task would.
    wait_until(lambda: live_sessions_reconcile().ended == [session.pk], timeout=10)
    session.refresh_from_db()
    assert session.ended_at == left
    # No worker ran the job: its pending run ended at once, and the job is stopped.
    assert job_state(stream.job_id) == JobState.STOPPED

    # The next publish is a new session.
    publisher = publish(ingest.publish_url(key))
    try:
        wait_until(lambda: LiveSession.objects.filter(stream=stream).count() == 2)
    finally:
        stop(publisher)


def test_stop_ends_the_publish_now_and_drops_the_publisher(
    ingest: Ingest, operator_user: Any, operator_api: Any
) -> None:
    stream, key = live_stream(operator_user, outputs=[UDP])
    publisher = publish(ingest.publish_url(key))
    try:
        wait_until(lambda: LiveSession.objects.filter(stream=stream).exists())
        response = operator_api.post(f"/api/v1/live-streams/{stream.pk}/stop")
        assert response.status_code == 200 and response.json()["state"] == "offline"
        assert publisher.wait(10) is not None  # nginx dropped it
        session = LiveSession.objects.get(stream=stream)
        assert session.ended_at is not None
        assert job_state(stream.job_id) in (JobState.STOPPED, JobState.STOPPING)
    finally:
        stop(publisher)


def test_a_session_whose_publish_nginx_does_not_have_is_marked_lost(
    ingest: Ingest, operator_user: Any
) -> None:
    # nginx restarted on its own (another container) and said nothing: the session
    # says connected, nginx lists no publish. The reconciler starts its grace.
    from apps.streams.live.sessions import live_publish_start

    _, key = live_stream(operator_user, outputs=[UDP])
    publishing, key2 = live_stream(operator_user, outputs=[UDP])
    ghost = live_publish_start(key=key, protocol="rtmp", address="127.0.0.1").session
    publisher = publish(ingest.publish_url(key2))
    try:
        real = wait_until(lambda: LiveSession.objects.filter(stream=publishing).first())
        wait_until(lambda: f"stream-{publishing.pk}" in read_stat())
        result = live_sessions_reconcile()
        assert result.lost == [ghost.pk]
        assert LiveSession.objects.get(pk=ghost.pk).disconnected_at is not None
        assert LiveSession.objects.get(pk=real.pk).disconnected_at is None
    finally:
        stop(publisher)
