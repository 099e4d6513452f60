from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from apps.streams import conf
from castcore.tests.celery_workers import ffmpeg_worker_env
from workers.ffmpeg.tests.rtmp_server import rtmp_server_fixture  # noqa: F401


@pytest.fixture(autouse=True)
def _fast_runtime(
    monkeypatch: pytest.MonkeyPatch, settings: object, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # Short heartbeats and leases keep process tests quick; runs write under a temp VAR_DIR.
    monkeypatch.setattr(conf, "HEARTBEAT_SECONDS", 0.3)
    monkeypatch.setattr(conf, "LEASE_SECONDS", 3.0)
    monkeypatch.setattr(conf, "STOP_GRACE_SECONDS", 3.0)
    settings.VAR_DIR = tmp_path_factory.mktemp("var")  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def _tmp_roots(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    # Tests read and write under pytest's temp dirs: make those the allowed roots (and tell
    # worker processes they start). test_hardening_paths.py checks the real defaults.
    base = str(tmp_path_factory.getbasetemp())
    for name in ("OUTPUT_ROOTS", "INPUT_ROOTS"):
        monkeypatch.setattr(conf, name, (base,))
        monkeypatch.setenv(f"CASTCORE_{name}", base)


StartWorker = Callable[..., subprocess.Popen[bytes]]


@pytest.fixture
def start_worker(tmp_path: Path, settings: Any) -> Iterator[StartWorker]:
    """Starts real Celery workers on the ffmpeg queue, all on this host (one VAR_DIR).

    `start(prefix, **env)`: the worker's name starts with `prefix-`; `env` adds to its
    environment (CASTCORE_STREAM_* timings). Each worker's output goes to
    tmp_path/worker-N.log. Skipped without PostgreSQL and Redis.
    """
    settings.MEDIA_ROOT = tmp_path / "media"  # where the workers save recordings too
    base_env = ffmpeg_worker_env(settings)
    started: list[tuple[subprocess.Popen[bytes], Any]] = []

    def start(prefix: str, **env: str) -> subprocess.Popen[bytes]:
        log = (tmp_path / f"worker-{len(started)}.log").open("wb")
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "castcore", "worker", "-Q", "ffmpeg",
             "-P", "threads", "-c", "2", "--without-mingle", "--without-gossip", "-l", "INFO",
             "-n", f"{prefix}-{uuid.uuid4().hex[:8]}@%h"],
            env={**base_env, **env}, stdout=log, stderr=subprocess.STDOUT,
            cwd=settings.BASE_DIR,
        )  # fmt: skip
        started.append((worker, log))
        return worker

    yield start
    for worker, log in started:
        if worker.poll() is None:
            worker.kill()
        worker.wait(10)
        log.close()
