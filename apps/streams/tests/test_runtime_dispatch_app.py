"""A process that dispatches stream runs sends them through CastCore's Celery app."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_a_fresh_web_process_dispatches_runs_to_the_configured_broker(tmp_path: Path) -> None:
    # What a distributed daphne process does: load the ASGI app, then import the task
    # at start time. Without CastCore's app current, the task went to Celery's default
    # app (amqp://localhost) and no worker saw the start.
    code = (
        "import castcore.asgi;"
        "from workers.stream_jobs import run_stream_job;"
        "print(run_stream_job.app.main, run_stream_job.app.conf.broker_url)"
    )
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(
        DJANGO_SETTINGS_MODULE="castcore.settings",
        CASTCORE_VAR_DIR=str(tmp_path / "var"),
        CASTCORE_EMBEDDED_WORKER="false",
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, timeout=120
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert done.stdout.decode().split() == ["castcore", "filesystem://"]
