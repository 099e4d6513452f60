"""Two schedulers at once, as separate processes on PostgreSQL: each occurrence runs once."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta

from django.conf import settings

from apps.channels.scheduling.models import RunState, ScheduledRun
from apps.channels.tests.factories import an_action

SECONDS = 10


def test_a_recurring_action_fires_once_per_occurrence_with_two_schedulers(
    distributed_db: dict[str, str],
) -> None:
    first = (datetime.now(UTC) + timedelta(seconds=2)).replace(microsecond=0)
    # Every second: faster than the API allows, to get many occurrences in a short test.
    action = an_action(starts_at=first, next_run_at=first, rule="FREQ=SECONDLY")
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "apps.channels.tests.scheduler_process", str(SECONDS)],
            cwd=settings.BASE_DIR,
            env=distributed_db,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [process.communicate(timeout=SECONDS + 60) for process in processes]
    assert [process.returncode for process in processes] == [0, 0], outputs
    handled = [int(out.strip().splitlines()[-1]) for out, _ in outputs]

    runs = list(ScheduledRun.objects.filter(action=action).order_by("occurrence_at"))
    per_occurrence = Counter(run.occurrence_at for run in runs)
    assert set(per_occurrence.values()) == {1}
    # Every second from the first to the last handled one, none missing, none late.
    seconds = [(run.occurrence_at - first).total_seconds() for run in runs]
    assert seconds == list(range(len(runs))) and len(runs) >= SECONDS - 4
    assert {run.state for run in runs} == {RunState.SUCCEEDED}
    assert not any(run.late for run in runs)
    # Both took part, and together they handled each occurrence once.
    assert len({run.claimed_by for run in runs}) == 2
    assert sum(handled) == len(runs)
