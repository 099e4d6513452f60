"""`python -m castcore.serve …` under cProfile, switched on by SIGUSR1 and off by SIGUSR2.

    .venv/bin/python bench/profiled_serve.py STATS_PATH [castcore.serve arguments]

For the benches (chat_fanout.py --profile): the profile covers the event loop's thread (the
main thread, where daphne runs) over the window the bench measures, not the start-up or
the sockets' connects. SIGUSR2 writes the pstats file; read it with
`python -m pstats STATS_PATH` or pstats.Stats(...).sort_stats("cumulative").
"""

from __future__ import annotations

import cProfile
import runpy
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    path, serve_args = sys.argv[1], sys.argv[2:]
    profiler = cProfile.Profile()

    def begin(signum: int, frame: object) -> None:
        profiler.enable()

    def end(signum: int, frame: object) -> None:
        profiler.disable()
        profiler.dump_stats(path)

    signal.signal(signal.SIGUSR1, begin)
    signal.signal(signal.SIGUSR2, end)
    sys.argv = ["castcore.serve", *serve_args]
    runpy.run_module("castcore.serve", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
