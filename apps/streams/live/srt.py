"""SRT ingest: a second door to the same streams, through the same callbacks.

Each SRT-enabled stream gets an ffmpeg SRT listener on its own port (`srt_port`, from
CASTCORE_SRT_PORTS) whose passphrase is the stream's key. It relays what an encoder
sends, unchanged, to the local nginx-rtmp ingest, so the publish is authorised,
sessioned and transcoded exactly as an RTMP one (on_publish, the grace period, second
publishers refused): one ingest path to get right, not two. The cost is one `-c copy`
process per SRT stream, and an SRT publish is seen as RTMP by nginx (the relay marks it
`via=srt`, which names the session's protocol).

The relay does not publish with the key: it publishes as `srt-<id>` with an expiry and
an HMAC (callback secret) over the id, the expiry and the key's digest, which on_publish
accepts only in that form (`relay_publish_stream_id`). A rotated key or an expired
signature is refused; a forged one too. The key stays in the relay's argv once, as the
SRT passphrase: ffmpeg (5.1 here) takes the srt protocol's passphrase only as an
option on its command line (URL or `-passphrase`), and has no way to read an option's
value from a file, so it cannot be kept out of /proc/<pid>/cmdline of the relay.

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
import hashlib
import hmac
import logging
import os
import re
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from urllib.parse import quote

from django.conf import settings
from django.db import close_old_connections, connection

from apps.streams.live import conf
from apps.streams.live.models import ingest_key_digest
from castcore.secrets import remember
from workers.ffmpeg.confine import SYSTEM_ONLY, resolved_argv, start_confined

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Relay:
    stream_id: int
    port: int
    key: str


RELAY_PREFIX = "srt-"
_RELAY_NAME = re.compile(rf"^{RELAY_PREFIX}(\d+)$")
# How long a relay's signed name is accepted. A listener waits for its caller for as long
# as it takes, so it is long; an idle relay is renewed when half of it is gone.
RELAY_SIGNATURE_SECONDS = 7 * 24 * 3600


def relay_signature(stream_id: int, expires: int, key_digest: str) -> str:
    message = f"castcore.srt-relay:{stream_id}:{expires}:{key_digest}".encode()
    return hmac.new(conf.callback_secret().encode(), message, hashlib.sha256).hexdigest()


def relay_publish_stream_id(name: str, *, expires: str, sig: str) -> int | None:
    """The stream a relay's publish (`srt-<id>`, `exp`, `sig`) stands for, if its signature
    is good, not expired, and made with the stream's current key; None otherwise."""
    from apps.streams.live.models import LiveStream

    match = _RELAY_NAME.match(name)
    if match is None or not expires.isdigit() or int(expires) < time.time():
        return None
    stream_id = int(match.group(1))
    digest = (
        LiveStream.objects.filter(pk=stream_id, srt_enabled=True)
        .exclude(ingest_key_digest="")
        .values_list("ingest_key_digest", flat=True)
        .first()
    )
    if digest is None:
        return None
    good = relay_signature(stream_id, int(expires), digest)
    return stream_id if hmac.compare_digest(good.encode(), sig.encode()) else None


def is_relay_name(name: str) -> bool:
    return _RELAY_NAME.match(name) is not None


def relay_argv(relay: Relay, *, expires: int) -> list[str]:
    """The relay's ffmpeg: SRT listener in (key as passphrase), FLV to nginx-rtmp out under
    the relay's signed name (no key)."""
    bind = conf.RTMP_BIND if ":" not in conf.RTMP_BIND else f"[{conf.RTMP_BIND}]"
    source = (
        f"srt://{bind}:{relay.port}?mode=listener&passphrase={quote(relay.key)}"
        "&pbkeylen=16&transtype=live"
    )
    target = (
        f"rtmp://{conf.RTMP_INTERNAL_HOST}:{conf.RTMP_PORT}/{conf.RTMP_APP}/"
        f"{RELAY_PREFIX}{relay.stream_id}?via=srt&exp={expires}"
        f"&sig={relay_signature(relay.stream_id, expires, ingest_key_digest(relay.key))}"
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
        self.expires: dict[int, int] = {}
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
            if (
                wanted.get(stream_id) != relay
                or process.poll() is not None
                or self._renew(stream_id)
            ):
                self._stop(stream_id)
        for stream_id, relay in wanted.items():
            if stream_id not in self.running and not self.stopping.is_set():
                self._start(relay)

    def _renew(self, stream_id: int) -> bool:
        """Half its signature's life gone and no publisher on it: start it afresh (a relay
        carrying a publish is left alone; its signature was only checked at the start)."""
        from apps.streams.live.models import LiveSession

        if self.expires[stream_id] - time.time() > RELAY_SIGNATURE_SECONDS / 2:
            return False
        return not LiveSession.objects.filter(
            stream_id=stream_id, ended_at__isnull=True, disconnected_at__isnull=True
        ).exists()

    def _start(self, relay: Relay) -> None:
        remember(relay.key)
        expires = int(time.time()) + RELAY_SIGNATURE_SECONDS
        argv = resolved_argv(relay_argv(relay, expires=expires))
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
        self.expires[relay.stream_id] = expires
        logger.info("SRT listener of live stream %s on port %s", relay.stream_id, relay.port)

    def _stop(self, stream_id: int) -> None:
        _, process = self.running.pop(stream_id)
        self.expires.pop(stream_id, None)
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
