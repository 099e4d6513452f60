import shutil
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from apps.streams.live.tests.conftest import ingest_ports, nginx_rtmp_up  # noqa: F401
from apps.system import conf
from apps.system.services import worker_heartbeat_record

# Every part answers, RTMP ingest too (its own health tests: apps/streams/live/tests).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("nginx_rtmp_up")]


@pytest.fixture(autouse=True)
def _no_free_space_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    # Whatever this machine's disks hold, a test that wants the warning raises the bar.
    monkeypatch.setattr(conf, "HEALTH_MIN_FREE_MB", 0)


@pytest.fixture
def worker_seen() -> None:
    worker_heartbeat_record(
        hostname="celery@test", queues=["default"], embedded=False, started_at=timezone.now()
    )


def test_it_is_healthy_when_every_part_answers(api: APIClient, worker_seen: None) -> None:
    response = api.get("/api/v1/system/health")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "ok" and body["failing"] == [] and body["warnings"] == []
    assert set(body["checks"]) == {
        "database", "channel_layer", "broker", "workers", "ffmpeg", "disk", "confinement",
        "nginx_rtmp",
    }  # fmt: skip


def test_anonymous_callers_get_no_details(api: APIClient, worker_seen: None) -> None:
    checks = api.get("/api/v1/system/health").json()["checks"]
    assert all(set(check) == {"ok"} for check in checks.values())


def test_signed_in_users_see_versions_and_workers(viewer_api: APIClient, worker_seen: None) -> None:
    checks = viewer_api.get("/api/v1/system/health").json()["checks"]
    assert checks["ffmpeg"]["detail"]["version"].startswith("ffmpeg version")
    assert checks["workers"]["detail"]["workers"][0]["hostname"] == "celery@test"


def test_it_says_that_ffmpeg_and_ffprobe_run_confined(
    viewer_api: APIClient, worker_seen: None
) -> None:
    # This machine's kernel has Landlock (ABI 1 or later): processes run confined.
    check = viewer_api.get("/api/v1/system/health").json()["checks"]["confinement"]
    assert check["ok"] is True
    assert check["detail"]["confined"] is True and check["detail"]["landlock_abi"] >= 1


def test_no_recent_worker_is_a_503_naming_the_part(api: APIClient) -> None:
    response = api.get("/api/v1/system/health")
    assert response.status_code == 503
    assert response.json()["failing"] == ["workers"]


def test_a_stale_heartbeat_does_not_count(api: APIClient, settings: Any) -> None:
    from datetime import timedelta

    from apps.system.models import WorkerHeartbeat

    worker_heartbeat_record(
        hostname="celery@old", queues=[], embedded=False, started_at=timezone.now()
    )
    WorkerHeartbeat.objects.update(
        last_seen=timezone.now() - timedelta(seconds=settings.WORKER_SEEN_SECONDS + 1)
    )
    assert api.get("/api/v1/system/health").json()["failing"] == ["workers"]


def test_a_missing_ffmpeg_is_a_503(api: APIClient, worker_seen: None, settings: Any) -> None:
    settings.FFMPEG_BINARY = "/nonexistent/ffmpeg"
    response = api.get("/api/v1/system/health")
    assert response.status_code == 503
    assert response.json()["failing"] == ["ffmpeg"]


def test_an_unreachable_broker_is_a_503(api: APIClient, worker_seen: None, settings: Any) -> None:
    # A Redis URL on a closed loopback port: the broker check must fail fast.
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = api.get("/api/v1/system/health")
    assert response.status_code == 503
    assert "broker" in response.json()["failing"]


def free_mb(path: Path) -> int:
    return shutil.disk_usage(path).free // (1024 * 1024)


def test_free_space_below_the_threshold_is_a_warning_not_a_failure(
    api: APIClient,
    viewer_api: APIClient,
    worker_seen: None,
    monkeypatch: pytest.MonkeyPatch,
    settings: Any,
    tmp_path: Path,
) -> None:
    settings.VAR_DIR = tmp_path
    monkeypatch.setattr(conf, "HEALTH_MIN_FREE_MB", free_mb(tmp_path) + 1024)
    response = api.get("/api/v1/system/health")
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["warnings"], body["failing"]) == ("warning", ["disk"], [])
    assert body["checks"]["disk"] == {"ok": True}  # folders and sizes only for signed-in users

    detail = viewer_api.get("/api/v1/system/health").json()["checks"]["disk"]["detail"]
    assert detail["min_free_bytes"] == conf.HEALTH_MIN_FREE_MB * 1024 * 1024
    low = [folder for folder in detail["folders"] if folder["code"] == "preflight.disk_low"]
    assert low and all(folder["free_bytes"] < detail["min_free_bytes"] for folder in low)


def test_free_space_above_the_threshold_is_no_warning(
    api: APIClient,
    worker_seen: None,
    monkeypatch: pytest.MonkeyPatch,
    settings: Any,
    tmp_path: Path,
) -> None:
    settings.VAR_DIR = tmp_path
    monkeypatch.setattr(conf, "HEALTH_MIN_FREE_MB", max(free_mb(tmp_path) // 2, 1))
    body = api.get("/api/v1/system/health").json()
    assert (body["status"], body["warnings"]) == ("ok", [])


# A kernel without Landlock, for real: a seccomp filter makes its syscalls fail with ENOSYS,
# as container runtimes that do not know them do. The filter is set in a child process.
WITHOUT_LANDLOCK = """
import ctypes, json, sys
class Filter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte),
                ("k", ctypes.c_uint)]
class Program(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(Filter))]
ENOSYS_RET, ALLOW = 0x00050000 | 38, 0x7FFF0000
rules = (Filter * 6)(
    Filter(0x20, 0, 0, 0),  # load the syscall number
    Filter(0x35, 0, 3, 444),  # below landlock_create_ruleset: allow
    Filter(0x35, 2, 0, 447),  # above landlock_restrict_self: allow
    Filter(0x06, 0, 0, ENOSYS_RET),
    Filter(0x06, 0, 0, ALLOW),
    Filter(0x06, 0, 0, ALLOW),
)
libc = ctypes.CDLL(None, use_errno=True)
assert libc.prctl(38, 1, 0, 0, 0) == 0  # PR_SET_NO_NEW_PRIVS
program = Program(len(rules), rules)
assert libc.prctl(22, 2, ctypes.byref(program), 0, 0) == 0, ctypes.get_errno()  # SECCOMP filter
import django
django.setup()
from apps.system.health import check_confinement
from workers.ffmpeg.probe import run_bounded
result = check_confinement()
print(json.dumps({"ok": result.ok, "warning": result.warning, "detail": result.detail,
                  "ffmpeg_runs": run_bounded(["ffmpeg", "-version"], timeout=30)[0] == 0}))
"""


@pytest.mark.slow
def test_it_says_when_the_kernel_cannot_confine_ffmpeg_and_ffprobe() -> None:
    import json
    import os
    import subprocess
    import sys

    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "castcore.settings_test"}
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_LANDLOCK], capture_output=True, text=True, env=env,
        timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    # A warning (still a 200): the server works, but ffmpeg runs unconfined.
    assert (result["ok"], result["warning"]) == (True, True)
    assert result["detail"] == {"landlock_abi": 0, "confined": False}
    assert result["ffmpeg_runs"] is True  # unconfined, but it still runs
