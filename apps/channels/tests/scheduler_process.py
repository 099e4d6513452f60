"""A scheduler process for the tests: runs the periodic task's body in a loop.

`python -m apps.channels.tests.scheduler_process SECONDS` with the test database's
environment; several of these stand for several beats and workers at once.
"""

from __future__ import annotations

import random
import sys
import time


def main(seconds: float) -> None:
    import django

    django.setup()
    from workers.scheduler import run_scheduled_actions

    deadline = time.monotonic() + seconds
    handled = 0
    while time.monotonic() < deadline:
        handled += run_scheduled_actions()
        # Ticks at random moments, so that each process is sometimes first.
        time.sleep(random.uniform(0.0, 0.03))
    print(handled)


if __name__ == "__main__":
    main(float(sys.argv[1]))
