"""Processes keep what they built at start-up out of the garbage collector."""

from __future__ import annotations

import gc
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from celery.signals import worker_ready

from castcore.tests.test_run_modes import ROOT, embedded_env


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_a_web_process_freezes_its_start_up_objects(tmp_path: Path) -> None:
    env = embedded_env(tmp_path / "var")
    env["CASTCORE_EMBEDDED_WORKER"] = "false"
    script = "import gc; import castcore.asgi; print(gc.get_freeze_count(), len(gc.get_objects()))"
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    frozen, collected = map(int, result.stdout.split())
    # Django, DRF, models and URLs: far more than what is left to the collector.
    assert frozen > 50_000 and collected < frozen / 10, result.stdout


def test_a_ready_worker_freezes_its_start_up_objects(unfrozen: None) -> None:
    import castcore.celery  # noqa: F401  (connects the handlers)

    assert gc.get_freeze_count() == 0
    worker_ready.send(sender=None)
    assert gc.get_freeze_count() > 10_000
