"""Real failures under the supervisor: a dead target, a rejected key, a stalled input."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from apps.streams.models import ExitReason, JobState, RunState, StreamJob
from apps.streams.services import stream_job_start, stream_job_stop
from apps.streams.tests.factories import job_with_outputs
from apps.streams.tests.helpers import (
    redirecting_server,
    run_row,
    start_supervised,
    wait_until,
)
from apps.streams.tests.test_run_publishes_to_rtmp import ffprobe_streams
from workers.ffmpeg.logs import STREAM_KEY_REJECTED
from workers.ffmpeg.tests.rtmp_server import RtmpServer, free_port

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def hint_codes(job: StreamJob) -> set[str]:
    return {entry["hint_code"] for entry in run_row(job).log_tail if entry["hint_code"]}


def test_one_target_gone_does_not_stop_the_other(rtmp_server: RtmpServer) -> None:
    dead = f"rtmp://127.0.0.1:{free_port()}/live"  # nothing listens there
    job = job_with_outputs(
        {"url": rtmp_server.app_url, "stream_key": "goodkey"},
        {"url": dead, "stream_key": "otherkey"},
    )
    stream_job_start(actor=None, job=job)
    thread = start_supervised(job)
    wait_until(lambda: (run_row(job).last_stats.get("frames") or 0) > 50, timeout=20)

    streams = ffprobe_streams(rtmp_server.publish_url("goodkey"))
    assert {s["codec_type"] for s in streams} == {"video", "audio"}
    run = run_row(job)
    assert run.state == RunState.RUNNING and run.reconnect_count == 0
    assert "ffmpeg.connection_refused" in hint_codes(job)

    stream_job_stop(actor=None, job=job)
    thread.join(15)
    assert thread.result == ExitReason.STOPPED


def test_a_rejected_stream_key_is_explained_and_the_job_fails_after_its_attempts(
    rtmp_server: RtmpServer,
) -> None:
    job = job_with_outputs(
        {"url": rtmp_server.app_url, "stream_key": "wrong-key-123"}, reconnect_max_attempts=1
    )
    stream_job_start(actor=None, job=job)
    thread = start_supervised(job)
    thread.join(30)

    assert thread.result == ExitReason.FAILED
    assert STREAM_KEY_REJECTED in hint_codes(job)
    run = run_row(job)
    assert run.reconnect_count == 1 and run.exit_reason == ExitReason.FAILED
    assert rtmp_server.publish_attempts.count("wrong-key-123") == 2
    job.refresh_from_db()
    assert job.state == JobState.FAILED and job.desired_state == "stopped"
    assert "wrong-key-123" not in str(run.log_tail)


def test_an_input_that_stops_producing_is_restarted_as_a_stall() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # A UDP input with no sender: ffmpeg waits forever and reports no progress.
    job = job_with_outputs(
        {"kind": "udp", "url": f"udp://127.0.0.1:{free_port()}", "stream_key": ""},
        input_kind="url",
        input_url=f"udp://127.0.0.1:{port}",
        realtime=False,
        stall_timeout_seconds=1.5,
        reconnect_max_attempts=1,
    )
    stream_job_start(actor=None, job=job)
    thread = start_supervised(job)
    thread.join(30)

    assert thread.result == ExitReason.FAILED
    run = run_row(job)
    assert run.reconnect_count == 1
    assert any("ffmpeg stalled; reconnect 1" in entry["line"] for entry in run.log_tail)
    assert StreamJob.objects.get(pk=job.pk).state == JobState.FAILED


def test_an_input_that_redirects_to_a_metadata_address_is_refused_at_the_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Saved and started, the URL is fine (a loopback server); what it redirects to is
    # not. ffmpeg's connections go through the worker's egress proxy, which refuses it,
    # even where the worker's environment would let ffmpeg connect directly.
    monkeypatch.setenv("no_proxy", "*")
    with redirecting_server("http://169.254.169.254/latest/meta-data/") as (base, redirects):
        job = job_with_outputs(
            {"kind": "file", "url": str(tmp_path / "out.mkv"), "stream_key": ""},
            input_kind="url",
            input_url=f"{base}/live.ts",
            reconnect_max_attempts=0,
        )
        stream_job_start(actor=None, job=job)
        thread = start_supervised(job)
        thread.join(30)

    assert thread.result == ExitReason.FAILED
    assert redirects == ["/live.ts"]
    assert "ffmpeg.address_not_allowed" in hint_codes(job)
    assert not (tmp_path / "out.mkv").exists()


def test_the_egress_proxy_follows_the_link_local_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    import ipaddress

    from castcore import addresses as castcore_addresses
    from workers.ffmpeg import addresses
    from workers.ffmpeg.egress import EgressProxy

    # 127.0.0.2 stands for a link-local address here; nothing needs to listen there.
    net = ipaddress.ip_network("127.0.0.2/32")
    monkeypatch.setattr(addresses, "NOT_ALLOWED_NETWORKS", (*addresses.NOT_ALLOWED_NETWORKS, net))
    proxy = EgressProxy()
    try:

        def answer() -> bytes:
            with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as conn:
                conn.sendall(b"CONNECT 127.0.0.2:9 HTTP/1.1\r\n\r\n")
                return conn.recv(100)

        assert answer().startswith(b"HTTP/1.1 403 ")
        monkeypatch.setattr(castcore_addresses, "ALLOW_LINK_LOCAL_TARGETS", True)
        assert answer().startswith(b"HTTP/1.1 502 ")  # allowed, and nothing listens there
    finally:
        proxy.close()
