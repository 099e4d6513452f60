"""SRT ingest: an encoder publishing SRT with the key as passphrase goes through the same
callbacks (real nginx-rtmp, real ffmpeg SRT listener and caller)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from apps.streams.live import conf
from apps.streams.live.models import IngestProtocol, LiveSession
from apps.streams.live.srt import SrtRelays
from apps.streams.live.tests.conftest import Ingest
from apps.streams.live.tests.factories import live_stream
from apps.streams.live.tests.publisher import stop
from apps.streams.models import StreamRun
from apps.streams.tests.helpers import wait_until
from workers.ffmpeg.tests.rtmp_server import free_port

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

UDP = {"kind": "udp", "url": "udp://127.0.0.1:9"}


@pytest.fixture
def relays(ingest: Ingest, monkeypatch: pytest.MonkeyPatch) -> Iterator[SrtRelays]:
    port = free_port()
    monkeypatch.setattr(conf, "SRT_PORTS", (port, port))
    relays = SrtRelays(interval=0.3)
    relays.start()
    yield relays
    relays.stop()


def srt_publish(port: int, passphrase: str) -> subprocess.Popen[bytes]:
    url = f"srt://127.0.0.1:{port}?mode=caller&passphrase={passphrase}&pbkeylen=16"
    return subprocess.Popen(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-re",
         "-f", "lavfi", "-i", "testsrc=size=320x180:rate=25",
         "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "25",
         "-c:a", "aac", "-f", "mpegts", url],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def test_an_srt_publish_with_the_key_opens_an_srt_session(
    relays: SrtRelays, operator_user: Any
) -> None:
    stream, key = live_stream(operator_user, outputs=[UDP], srt_enabled=True)
    assert stream.srt_port == conf.SRT_PORTS[0]
    wait_until(lambda: stream.pk in relays.running, timeout=10)
    # The relay publishes to nginx under its signed name: the key is in its argv once, as
    # the SRT passphrase ffmpeg can take no other way, and not in the RTMP target.
    relay_pid = relays.running[stream.pk][1].pid
    with open(f"/proc/{relay_pid}/cmdline", "rb") as cmdline:
        argv = [arg.decode() for arg in cmdline.read().split(b"\0") if arg]
    target = argv[-1]
    assert target.startswith("rtmp://") and f"/srt-{stream.pk}?via=srt&exp=" in target
    assert key not in target and sum(arg.count(key) for arg in argv) == 1
    publisher = srt_publish(stream.srt_port, key)
    try:
        session = wait_until(lambda: LiveSession.objects.filter(stream=stream).first(), timeout=20)
        assert session.protocol == IngestProtocol.SRT and session.ended_at is None
        assert StreamRun.objects.filter(job_id=stream.job_id).exists()
    finally:
        stop(publisher)
    # The caller left: the relay's publish ends, the session waits its grace, and the
    # supervisor listens again for the encoder's return.
    wait_until(lambda: LiveSession.objects.get(pk=session.pk).disconnected_at, timeout=20)
    wait_until(lambda: stream.pk in relays.running and relays.running[stream.pk][1].poll() is None)


def test_a_wrong_passphrase_opens_nothing_and_srt_off_closes_the_port(
    relays: SrtRelays, operator_user: Any
) -> None:
    stream, key = live_stream(operator_user, outputs=[UDP], srt_enabled=True)
    wait_until(lambda: stream.pk in relays.running, timeout=10)
    assert stream.srt_port is not None
    publisher = srt_publish(stream.srt_port, "x" + key[1:])
    try:
        assert publisher.wait(20) != 0
    finally:
        stop(publisher)
    assert not LiveSession.objects.exists() and not StreamRun.objects.exists()

    from apps.streams.live.services import live_stream_update

    live_stream_update(actor=operator_user, stream=stream, srt_enabled=False)
    wait_until(lambda: stream.pk not in relays.running, timeout=10)
