from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from apps.streams.live import conf
from apps.streams.live.nginx import NginxSupervisor, nginx_rtmp_installed
from apps.streams.tests.conftest import _fast_runtime, _tmp_roots, start_worker  # noqa: F401
from workers.ffmpeg.tests.rtmp_server import free_port, rtmp_server_fixture, wait_for_port  # noqa: F401


@dataclass
class Ingest:
    """CastCore's nginx-rtmp, as the embedded mode runs it, on loopback ports of its own."""

    supervisor: NginxSupervisor
    port: int
    control_port: int
    callback_url: str

    def publish_url(self, key: str) -> str:
        return f"rtmp://127.0.0.1:{self.port}/{conf.RTMP_APP}/{key}"

    def worker_env(self) -> dict[str, str]:
        """What a worker process needs to find this ingest (the jobs' inputs)."""
        return {
            "CASTCORE_RTMP_PORT": str(self.port),
            "CASTCORE_RTMP_CONTROL_PORT": str(self.control_port),
            "CASTCORE_RTMP_CALLBACK_URL": self.callback_url,
        }


@pytest.fixture
def ingest_ports(monkeypatch: pytest.MonkeyPatch) -> tuple[int, int]:
    rtmp, control = free_port(), free_port()
    monkeypatch.setattr(conf, "RTMP_PORT", rtmp)
    monkeypatch.setattr(conf, "RTMP_CONTROL_PORT", control)
    monkeypatch.setattr(conf, "RTMP_BIND", "127.0.0.1")
    return rtmp, control


@pytest.fixture
def nginx_rtmp_up(
    ingest_ports: tuple[int, int], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[NginxSupervisor]:
    """nginx-rtmp running as the embedded mode runs it (no callbacks answered)."""
    if not nginx_rtmp_installed():
        pytest.skip("nginx with the rtmp module is not installed")
    supervisor = NginxSupervisor(tmp_path_factory.mktemp("nginx-rtmp"), restart_delay=0.2)
    supervisor.start()
    try:
        wait_for_port(ingest_ports[0])
        yield supervisor
    finally:
        supervisor.stop()


@pytest.fixture
def ingest(
    live_server: object,
    ingest_ports: tuple[int, int],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Ingest]:
    """nginx-rtmp started by CastCore's supervisor, its callbacks to a live test server."""
    if not nginx_rtmp_installed():
        pytest.skip("nginx with the rtmp module is not installed")
    url = str(live_server.url)  # type: ignore[attr-defined]
    monkeypatch.setattr(conf, "CALLBACK_BASE_URL", url)
    monkeypatch.setattr(conf, "GRACE_SECONDS", 4.0)
    prefix: Path = tmp_path_factory.mktemp("nginx-rtmp")
    supervisor = NginxSupervisor(prefix, restart_delay=0.2)
    supervisor.start()
    try:
        wait_for_port(ingest_ports[0])
        yield Ingest(supervisor, ingest_ports[0], ingest_ports[1], url)
    finally:
        supervisor.stop()
