"""A plain `celery -A castcore worker` runs the pool that stream hand-over needs."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from castcore.tests.test_run_modes import ROOT, embedded_env, stop


@pytest.mark.slow
def test_a_worker_started_without_pool_options_runs_eight_threads(tmp_path: Path) -> None:
    env = embedded_env(tmp_path / "var")
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True
    )
    banner = tmp_path / "worker.txt"
    with banner.open("wb") as sink:
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "castcore", "worker", "-l", "INFO"],
            cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while "ready." not in banner.read_text() and time.monotonic() < deadline:
                assert worker.poll() is None, banner.read_text()
                time.sleep(0.3)
        finally:
            stop(worker)
    text = banner.read_text()
    assert "concurrency: 8 (thread)" in text, text
