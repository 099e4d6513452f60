"""Wall time of the test suite (or part of it) with different numbers of pytest-xdist workers.

Runs `pytest -n N --dist worksteal` (as `make test` does) once per value of --workers, in
this environment (set DATABASE_URL/REDIS_URL to time it as CI runs it), and prints one line
per run:

    suite_seconds=612.4 (workers 4, 2810 passed, 95 skipped, 0 failed, tests: all)

`--workers 0` is the serial run (no xdist). Other arguments go to pytest, e.g.
`-- apps/streams/live` or `-- -m "not slow"`.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COUNTS = re.compile(r"(\d+) (passed|failed|skipped|errors?|xfailed|xpassed)")


def run(workers: int, pytest_args: list[str]) -> str:
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly"]
    if workers:
        argv += ["-n", str(workers), "--dist", "worksteal"]
    started = time.monotonic()
    done = subprocess.run(argv + pytest_args, cwd=ROOT, capture_output=True, text=True)
    seconds = time.monotonic() - started
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-500:]
    counts = {kind.rstrip("s"): int(n) for n, kind in COUNTS.findall(summary)}
    return (
        f"suite_seconds={seconds:.1f} (workers {workers}, {counts.get('passed', 0)} passed, "
        f"{counts.get('skipped', 0)} skipped, {counts.get('failed', 0)} failed, "
        f"{counts.get('error', 0)} errors, tests: {' '.join(pytest_args) or 'all'})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", default="0,4", help="comma-separated -n values")
    parser.add_argument("pytest_args", nargs="*", help="after --: what pytest runs")
    args = parser.parse_args()
    for workers in [int(n) for n in args.workers.split(",")]:
        print(run(workers, args.pytest_args), flush=True)


if __name__ == "__main__":
    main()
