"""What `make run` prints: where it serves, and nothing while it idles."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from castcore.tests.test_run_modes import ROOT, embedded_env, free_port, stop, wait_for_health

RECONCILE_EVERY_S = 1


def _serve_and_idle(tmp_path: Path, *, log_level: str, idle_s: float) -> tuple[int, str]:
    """Run the embedded server, let it idle, stop it; (port, everything it printed)."""
    env = embedded_env(tmp_path / "var")
    env.update(
        LOG_LEVEL=log_level,
        CASTCORE_STREAM_RECONCILE_INTERVAL_SECONDS=str(RECONCILE_EVERY_S),
    )
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True
    )
    port = free_port()
    # A file, not a pipe: at DEBUG the server prints more than a pipe holds.
    output = tmp_path / "printed.txt"
    with output.open("wb") as sink:
        server = subprocess.Popen(
            [sys.executable, "-m", "castcore.serve", "-b", "127.0.0.1", "-p", str(port),
             "castcore.asgi:application"],
            cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            health = f"http://127.0.0.1:{port}/api/v1/system/health"
            status, body = wait_for_health(health)
            assert status == 200, body
            time.sleep(idle_s)
        finally:
            stop(server)
    return port, output.read_text()


@pytest.mark.slow
def test_the_server_says_where_it_serves_and_stays_quiet_while_idle(tmp_path: Path) -> None:
    port, printed = _serve_and_idle(tmp_path, log_level="INFO", idle_s=4 * RECONCILE_EVERY_S)
    assert printed.count(f"CastCore is ready on http://127.0.0.1:{port}/") == 1
    assert "No hostname was supplied" not in printed
    # Beat ran the reconciler about four times: none of it reached the INFO log.
    assert "reconcile" not in printed, printed


@pytest.mark.slow
def test_housekeeping_still_logs_at_debug(tmp_path: Path) -> None:
    _, printed = _serve_and_idle(tmp_path, log_level="DEBUG", idle_s=3 * RECONCILE_EVERY_S)
    assert "DEBUG celery.beat Scheduler: Sending due task reconcile-stream-runs" in printed
    assert "DEBUG celery.app.trace Task workers.stream_jobs.reconcile_stream_runs" in printed
