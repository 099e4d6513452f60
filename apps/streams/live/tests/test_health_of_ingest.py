"""The health endpoint says plainly whether RTMP ingest is installed and up."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import psutil
import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from apps.streams.live import conf
from apps.streams.live.nginx import NginxSupervisor
from apps.streams.tests.helpers import wait_until
from apps.system.services import worker_heartbeat_record
from workers.ffmpeg.tests.rtmp_server import wait_for_port

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def worker_seen() -> None:
    worker_heartbeat_record(
        hostname="celery@test", queues=["default"], embedded=False, started_at=timezone.now()
    )


def ingest_check(api: APIClient) -> tuple[str, dict[str, object]]:
    body = api.get("/api/v1/system/health").json()
    return body["status"], body["checks"]["nginx_rtmp"]


def test_up_is_ok(viewer_api: APIClient, nginx_rtmp_up: NginxSupervisor) -> None:
    _, check = ingest_check(viewer_api)
    assert check["ok"] is True and check["detail"]["running"] is True  # type: ignore[index]
    assert "nginx_rtmp" not in viewer_api.get("/api/v1/system/health").json()["warnings"]


def test_not_installed_is_a_warning_that_says_so(
    viewer_api: APIClient,
    monkeypatch: pytest.MonkeyPatch,
    ingest_ports: tuple[int, int],
    settings: Any,
) -> None:
    settings.DISTRIBUTED = False  # the embedded mode runs nginx itself, when installed
    monkeypatch.setattr(conf, "NGINX_RTMP_MODULE", "/nonexistent/ngx_rtmp_module.so")
    status, check = ingest_check(viewer_api)
    detail: dict[str, object] = check["detail"]  # type: ignore[assignment]
    assert status == "warning" and detail["installed"] is False
    assert "not installed" in str(detail["detail"])


def test_down_is_a_warning_that_says_so(
    viewer_api: APIClient, ingest_ports: tuple[int, int], tmp_path: Path
) -> None:
    supervisor = NginxSupervisor(tmp_path, restart_delay=60)  # no restart within this test
    supervisor.start()
    try:
        wait_for_port(ingest_ports[0])
        assert supervisor.process is not None
        supervisor.process.send_signal(signal.SIGKILL)
        supervisor.process.wait(5)
        status, check = ingest_check(viewer_api)
        assert status == "warning" and "down" in str(check["detail"]["detail"])  # type: ignore[index]
    finally:
        supervisor.stop()


def test_the_supervisor_starts_nginx_again_when_it_dies_and_stops_it_with_the_server(
    nginx_rtmp_up: NginxSupervisor, ingest_ports: tuple[int, int]
) -> None:
    first = nginx_rtmp_up.process
    assert first is not None
    first.send_signal(signal.SIGKILL)
    wait_until(lambda: nginx_rtmp_up.starts == 2, timeout=10)
    wait_for_port(ingest_ports[0])
    second = nginx_rtmp_up.process
    assert second is not None and second.pid != first.pid and second.poll() is None
    nginx_rtmp_up.stop()
    assert second.poll() is not None and not psutil.pid_exists(second.pid)
