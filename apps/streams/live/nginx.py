"""nginx-rtmp as CastCore runs it: its configuration from the settings, its statistics and
control, whether it is installed and up, and, in the embedded mode, its supervisor.

Distributed mode: `manage.py render_nginx_rtmp` writes the configuration for the
nginx-rtmp service (docker-compose.yml). Embedded mode: the web process renders it
under var/nginx-rtmp/, starts nginx (when installed), restarts it if it dies and
stops it with the server.
"""

from __future__ import annotations

import atexit
import functools
import logging
import os
import shutil
import socket
import subprocess
import sys
import threading
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection

from apps.streams.live import conf
from apps.streams.live.nginx_config import RtmpConfig, render
from workers.ffmpeg.supervisor import die_with_parent

logger = logging.getLogger(__name__)

CONTROL_TIMEOUT_SECONDS = 3.0


def embedded_prefix() -> Path:
    return Path(settings.VAR_DIR) / "nginx-rtmp"


def config_from_settings(
    *, prefix: Path | str, embedded: bool, module_path: str | None = None
) -> RtmpConfig:
    """The configuration the settings describe; `embedded`: one foreground process."""
    module = module_path if module_path is not None else conf.NGINX_RTMP_MODULE
    return RtmpConfig(
        prefix=str(prefix),
        rtmp_bind=conf.RTMP_BIND,
        rtmp_port=conf.RTMP_PORT,
        control_bind=conf.RTMP_CONTROL_BIND,
        control_port=conf.RTMP_CONTROL_PORT,
        app=conf.RTMP_APP,
        callback_url=conf.CALLBACK_BASE_URL,
        callback_secret=conf.callback_secret(),
        play_allow=conf.RTMP_PLAY_ALLOW,
        play_deny=conf.RTMP_PLAY_DENY,
        idle_publisher_seconds=conf.IDLE_PUBLISHER_SECONDS,
        module_path=module or None,
        foreground=True,
        single_process=embedded,
        # nginx run as root would switch its workers to "nobody"; as root with no
        # workers (embedded, in a container) it stays root.
        user="root" if embedded and os.geteuid() == 0 else None,
    )


def nginx_rtmp_installed() -> bool:
    """nginx and its rtmp module (libnginx-mod-rtmp) are on this host."""
    binary = shutil.which(conf.NGINX_BINARY)
    return bool(binary) and Path(conf.NGINX_RTMP_MODULE).is_file()


def _control_url(path: str, **query: str) -> str:
    host = conf.RTMP_INTERNAL_HOST
    url = f"http://{host}:{conf.RTMP_CONTROL_PORT}{path}"
    return f"{url}?{urllib.parse.urlencode(query)}" if query else url


def _get(url: str) -> bytes:
    # CastCore's own nginx, at the configured internal address: not a user's target.
    with urllib.request.urlopen(url, timeout=CONTROL_TIMEOUT_SECONDS) as response:  # noqa: S310
        return bytes(response.read())


def drop_publisher(name: str) -> None:
    """Disconnect the publisher of `name` (nginx-rtmp's control); OSError if nginx is away."""
    _get(_control_url("/control/drop/publisher", app=conf.RTMP_APP, name=name))


def drop_subscribers(name: str) -> None:
    """Disconnect the players of `name` (the job's ffmpeg): they read an end of stream.

    ffmpeg reading a publish that left waits for data for ever and does not even
    answer SIGINT; a stop would have to kill it, losing the recording it holds in
    its buffers. Disconnected, it ends as at the end of a file, trailers written.
    """
    _get(_control_url("/control/drop/subscriber", app=conf.RTMP_APP, name=name))


def _int(text: str | None) -> int | None:
    try:
        return int(float(text)) if text not in (None, "") else None  # type: ignore[arg-type]
    except ValueError:
        return None


def _float(text: str | None) -> float | None:
    try:
        return float(text) if text not in (None, "") else None  # type: ignore[arg-type]
    except ValueError:
        return None


def parse_stat(xml: bytes, app: str) -> dict[str, dict[str, Any]]:
    """nginx-rtmp's /stat: {stream name: inbound figures} of `app`'s publishing streams."""
    found: dict[str, dict[str, Any]] = {}
    root = ET.fromstring(xml)  # noqa: S314 (our own nginx, on loopback)
    for application in root.iter("application"):
        if application.findtext("name") != app:
            continue
        for stream in application.iter("stream"):
            if stream.find("publishing") is None:
                continue
            video = stream.find("meta/video")
            audio = stream.find("meta/audio")
            publisher = next(
                (c for c in stream.iter("client") if c.find("publishing") is not None), None
            )
            bw_video, bw_audio = (
                _int(stream.findtext("bw_video")),
                _int(stream.findtext("bw_audio")),
            )
            found[stream.findtext("name") or ""] = {
                "video_codec": (video.findtext("codec") if video is not None else "") or "",
                "width": _int(video.findtext("width")) if video is not None else None,
                "height": _int(video.findtext("height")) if video is not None else None,
                "fps": _float(video.findtext("frame_rate")) if video is not None else None,
                "audio_codec": (audio.findtext("codec") if audio is not None else "") or "",
                "video_bitrate_kbps": bw_video // 1000 if bw_video else None,
                "audio_bitrate_kbps": bw_audio // 1000 if bw_audio else None,
                "encoder": (publisher.findtext("flashver") if publisher is not None else "") or "",
            }
    return found


def read_stat() -> dict[str, dict[str, Any]]:
    """The inbound figures of every publish now; OSError when nginx does not answer."""
    return parse_stat(_get(_control_url("/stat")), conf.RTMP_APP)


PROBE_ATTEMPTS = 3


def probe_ingest(stream_id: int, timeout: float = 10.0) -> dict[str, Any]:
    """Codec, size and rate of a publish, read by the engine's ffprobe (confined) from the
    local ingest. nginx-rtmp's own figures get the size wrong when the encoder crops
    (320x180 shows as 320x168; 1080p is cropped from 1088 too)."""
    from apps.streams.live.ingest import internal_ingest_url
    from workers.ffmpeg.probe import probe

    # A live probe may end before the video's first packets (an encoder whose keyframes are
    # far apart): it then sees the audio alone. Probed again, at most PROBE_ATTEMPTS times.
    info = None
    for _attempt in range(PROBE_ATTEMPTS):
        seen = probe(
            internal_ingest_url(stream_id),
            timeout=timeout,
            protocols=("rtmp", "tcp"),
            formats=("flv", "live_flv"),
        )
        if info is None or _video_score(seen) > _video_score(info):
            info = seen
        if _video_score(info) == 2:
            break
    assert info is not None
    found: dict[str, Any] = {}
    if info.video_streams:
        video = info.video_streams[0]
        found.update(
            video_codec=(video.codec or "").upper(),
            width=video.width,
            height=video.height,
            fps=video.frame_rate,
        )
        if video.bit_rate:
            found["video_bitrate_kbps"] = declared_kbps(video.bit_rate)
    if info.audio_streams:
        audio = info.audio_streams[0]
        found["audio_codec"] = (audio.codec or "").upper()
        if audio.bit_rate:
            found["audio_bitrate_kbps"] = declared_kbps(audio.bit_rate)
    return found


def _video_score(info: Any) -> int:
    """2: the video and its declared rate seen; 1: the video only; 0: no video."""
    if not info.video_streams:
        return 0
    return 2 if info.video_streams[0].bit_rate else 1


def declared_kbps(bit_rate: int) -> int:
    """The rate an encoder declares in its FLV metadata (`videodatarate`, kbit/s), from
    ffprobe's bit/s (which reads it as rate x 1024): what OBS is set to, and what Owncast
    reports. It replaces nginx's measure over its last seconds, which swings with the scene."""
    return bit_rate // 1024


def rtmp_listening(timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((conf.RTMP_INTERNAL_HOST, conf.RTMP_PORT), timeout=timeout):
            return True
    except OSError:
        return False


def nginx_rtmp_health() -> tuple[bool, dict[str, Any]]:
    """(up, detail) for the health endpoint, in words an operator reads as they are."""
    address = f"{conf.RTMP_INTERNAL_HOST}:{conf.RTMP_PORT}"
    if not settings.DISTRIBUTED and not nginx_rtmp_installed():
        return False, {
            "installed": False,
            "running": False,
            "detail": "nginx with the rtmp module (libnginx-mod-rtmp) is not installed: "
            "RTMP ingest is off.",
        }
    if not settings.DISTRIBUTED and not conf.EMBEDDED_NGINX:
        return False, {"installed": True, "running": False, "detail": "CASTCORE_EMBEDDED_NGINX "
                       "is off: CastCore does not start nginx-rtmp."}  # fmt: skip
    if rtmp_listening():
        return True, {"installed": True, "running": True, "address": address}
    return False, {
        "installed": True,
        "running": False,
        "address": address,
        "detail": f"nginx-rtmp does not answer on {address}: RTMP ingest is down.",
    }


class NginxSupervisor:
    """Runs nginx-rtmp in the foreground and starts it again when it exits.

    One thread owns the process (PR_SET_PDEATHSIG ties nginx to that thread's life, so
    a SIGKILLed server leaves no nginx behind). Each start marks the sessions of the
    previous nginx's publishers disconnected: they left without a callback.
    """

    def __init__(self, prefix: Path, *, restart_delay: float = 1.0) -> None:
        self.prefix = prefix
        self.restart_delay = restart_delay
        self.stopping = threading.Event()
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self._thread = threading.Thread(target=self._run, name="castcore-nginx-rtmp", daemon=True)

    def write_config(self) -> Path:
        self.prefix.mkdir(parents=True, exist_ok=True)
        path = self.prefix / "nginx.conf"
        text = render(config_from_settings(prefix=self.prefix, embedded=True))
        path.write_text(text)
        path.chmod(0o600)  # it holds the callback secret
        return path

    def start(self) -> None:
        self.write_config()
        self._thread.start()

    def _spawn(self) -> subprocess.Popen[bytes]:
        conf_path = self.prefix / "nginx.conf"
        log = (self.prefix / "nginx.out").open("ab")
        try:
            return subprocess.Popen(
                [conf.NGINX_BINARY, "-p", str(self.prefix), "-e", str(self.prefix / "error.log"),
                 "-c", str(conf_path)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                preexec_fn=functools.partial(die_with_parent, os.getpid()),
            )  # fmt: skip
        finally:
            log.close()

    def _run(self) -> None:
        delay = self.restart_delay
        while not self.stopping.is_set():
            self._publishers_lost()
            try:
                self.process = self._spawn()
            except OSError:
                logger.exception("nginx-rtmp could not be started")
                self.stopping.wait(delay)
                delay = min(delay * 2, 30.0)
                continue
            self.starts += 1
            logger.info("nginx-rtmp started (pid %s)", self.process.pid)
            code = self.process.wait()
            if self.stopping.is_set():
                break
            logger.warning("nginx-rtmp exited with %s; starting it again", code)
            self.stopping.wait(delay)
            delay = min(delay * 2, 30.0) if code else self.restart_delay

    def _publishers_lost(self) -> None:
        if self.starts == 0:
            return
        try:
            from apps.streams.live.services import live_sessions_publishers_lost

            live_sessions_publishers_lost()
        except Exception:
            logger.exception("could not mark the publishers of the last nginx-rtmp as gone")
        finally:
            connection.close()  # this thread's own; a restart is rare

    def stop(self, timeout: float = 5.0) -> None:
        self.stopping.set()
        process = self.process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)


_embedded: NginxSupervisor | None = None
_lock = threading.Lock()


def start_embedded_nginx() -> NginxSupervisor | None:
    """In the embedded mode, start and supervise nginx-rtmp once per process, when installed."""
    global _embedded
    # The embedded mode is the in-process worker's too (tests run without either).
    if settings.DISTRIBUTED or not settings.EMBEDDED_WORKER or not conf.EMBEDDED_NGINX:
        return None
    if not nginx_rtmp_installed():
        logger.warning("nginx with the rtmp module is not installed: RTMP ingest is off")
        return None
    from apps.streams.live.srt import SrtRelays

    with _lock:
        if _embedded is not None:
            return _embedded
        supervisor = NginxSupervisor(embedded_prefix())
        supervisor.start()
        relays = SrtRelays()  # SRT's door relays to this nginx
        relays.start()
        _embedded = supervisor

    def stop() -> None:
        relays.stop()
        supervisor.stop()

    atexit.register(stop)
    _stop_with_the_server(stop)
    return supervisor


def _stop_with_the_server(stop: Callable[[], None]) -> None:
    if "twisted.internet.reactor" not in sys.modules:
        return
    from twisted.internet import reactor

    # (the zope-interface stubs mistype this method; the call is the documented one)
    reactor.addSystemEventTrigger("before", "shutdown", stop)  # type: ignore[arg-type]
