"""One embedded web process for a bench: `python -m castcore.serve` on SQLite, no worker.

The benches that measure the web process alone (HLS viewers, tuner streams) start it the
same way: the real `castcore.settings` under a private VAR_DIR, migrated, one object made
by a `manage.py shell` script that prints its id last, and the server on a free port.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from castcore.tests.test_run_modes import free_port, stop

ROOT = Path(__file__).resolve().parent.parent


def serve(var_dir: Path, make: str, **settings: str) -> tuple[subprocess.Popen[bytes], int, int]:
    """(the server, its port, the id `make` printed); `settings` are more environment."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(DJANGO_SETTINGS_MODULE="castcore.settings", CASTCORE_VAR_DIR=str(var_dir),
               CASTCORE_EMBEDDED_WORKER="false", CASTCORE_EMBEDDED_NGINX="false",
               DEBUG="false", SECURE_SSL_REDIRECT="false",
               SECRET_KEY="bench-" + "k" * 40, **settings)  # fmt: skip
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
                   cwd=ROOT, env=env, check=True)  # fmt: skip
    made = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", make],
        cwd=ROOT, env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    made_id = int(made.stdout.strip().splitlines()[-1])
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "castcore.serve", "-b", "127.0.0.1", "-p", str(port),
         "castcore.asgi:application"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server, port, made_id
        except OSError:
            time.sleep(0.2)
    stop(server)
    raise SystemExit("the server did not start")
