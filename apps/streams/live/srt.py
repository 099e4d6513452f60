"""SRT ingest: a second door to the same streams, through the same callbacks.

Each SRT-enabled stream gets an ffmpeg SRT listener on its own port (`srt_port`, from
CASTCORE_SRT_PORTS) whose passphrase is the stream's key. It relays what an encoder
sends, unchanged, to the local nginx-rtmp ingest with the key, so the publish is
authorised, sessioned and transcoded exactly as an RTMP one (on_publish, the grace
period, second publishers refused): one ingest path to get right, not two. The cost
is one `-c copy` process per SRT stream, and an SRT publish is seen as RTMP by nginx
(the relay marks it `via=srt`, which names the session's protocol).

Why not let the job read SRT itself: the job's ffmpeg only runs while a session is
open, which needs a publish to nginx's callbacks first; and a listener inside the job
would make every reconnect of the encoder a restart of the whole transcode.

`SrtRelays` keeps one relay per enabled stream: started, restarted when it exits (an
ffmpeg listener serves one caller, then ends), replaced when the key or port changes,
stopped when SRT is turned off. The embedded mode runs it in the web process beside
nginx; the distributed mode runs it with `manage.py run_srt_relays` (docker-compose).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import threading
from dataclasses import dataclass
from urllib.parse import quote

from django.conf import settings
from django.db import close_old_connections, connection

from apps.streams.live import conf
from castcore.secrets import remember
from workers.ffmpeg.confine import SYSTEM_ONLY, resolved_argv, start_confined

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Relay:
    stream_id: int
    port: int
    key: str


def relay_argv(relay: Relay) -> list[str]:
    """The relay's ffmpeg: SRT listener in (key as passphrase), FLV to nginx-rtmp out."""
    bind = conf.RTMP_BIND if ":" not in conf.RTMP_BIND else f"[{conf.RTMP_BIND}]"
    source = (
        f"srt://{bind}:{relay.port}?mode=listener&passphrase={quote(relay.key)}"
        "&pbkeylen=16&transtype=live"
    )
    target = (
        f"rtmp://{conf.RTMP_INTERNAL_HOST}:{conf.RTMP_PORT}/{conf.RTMP_APP}/"
        f"{quote(relay.key)}?via=srt"
    )
    return [
        settings.FFMPEG_BINARY, "-hide_banner", "-nostdin", "-loglevel", "error",
        "-protocol_whitelist", "srt,udp,rtmp,tcp",
        "-f", "mpegts", "-i", source, "-map", "0", "-c", "copy", "-f", "flv", target,
    ]  # fmt: skip


def wanted_relays() -> dict[int, Relay]:
    """One relay per stream with SRT on, a port and a key (a revoked key: no listener)."""
    from apps.streams.live.models import LiveStream

    rows = (
        LiveStream.objects.filter(srt_enabled=True, srt_port__isnull=False)
        .exclude(ingest_key_digest="")
        .values_list("pk", "srt_port", "ingest_key")
    )
    return {pk: Relay(pk, port, key) for pk, port, key in rows if port is not None}


class SrtRelays:
    """Keeps the relays running as the streams want them; `interval` between looks."""

    def __init__(self, *, interval: float = 2.0) -> None:
        self.interval = interval
        self.stopping = threading.Event()
        self.running: dict[int, tuple[Relay, subprocess.Popen[bytes]]] = {}
        self._thread = threading.Thread(target=self._run, name="castcore-srt", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self.stopping.is_set():
                close_old_connections()  # as a request would: a dropped connection reopens
                try:
                    self.sync()
                except Exception:
                    logger.exception("SRT relays not synchronised")
                self.stopping.wait(self.interval)
        finally:
            connection.close()
            self._stop_all()

    def sync(self) -> None:
        """Start, restart, replace and stop relays to match the streams now."""
        wanted = wanted_relays()
        for stream_id, (relay, process) in list(self.running.items()):
            if wanted.get(stream_id) != relay or process.poll() is not None:
                self._stop(stream_id)
        for stream_id, relay in wanted.items():
            if stream_id not in self.running and not self.stopping.is_set():
                self._start(relay)

    def _start(self, relay: Relay) -> None:
        remember(relay.key)
        argv = resolved_argv(relay_argv(relay))
        try:
            # Confined to the system's files: it reads a socket and writes a socket. Its own
            # process group, so that a stop reaches it whole.
            process = start_confined(
                SYSTEM_ONLY,
                argv,
                lambda: subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                ),
            )
        except OSError as exc:
            logger.warning("SRT relay of live stream %s not started: %s", relay.stream_id, exc)
            return
        self.running[relay.stream_id] = (relay, process)
        logger.info("SRT listener of live stream %s on port %s", relay.stream_id, relay.port)

    def _stop(self, stream_id: int) -> None:
        _, process = self.running.pop(stream_id)
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # a relay holds nothing worth a flush
        process.wait(5)

    def _stop_all(self) -> None:
        for stream_id in list(self.running):
            self._stop(stream_id)

    def stop(self, timeout: float = 5.0) -> None:
        self.stopping.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        self._stop_all()
