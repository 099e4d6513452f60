"""Request bodies: how much the web process grows while a 1 GiB body is sent to it.

    .venv/bin/python bench/bench_bodies.py [--mib 1024]

Starts one `python -m castcore.serve castcore.asgi:application` (the real
`castcore.settings`, SQLite under a private temp VAR_DIR, no in-process worker)
and sends a body of --mib MiB of zeros to three routes (the login, the asset
upload, an unknown route), anonymously, twice each: with its Content-Length
declared, and chunked; then 400 MiB to the asset upload with an API token, within
its limit. The client sends the whole body whatever the server answers, as a
client that does not wait for an answer. See bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from castcore.tests.test_request_bodies_served import (
    MAKE_OPERATOR,
    MB,
    chunked,
    exchange,
    peak_growth,
    post_head,
    written,
    zeros,
)
from castcore.tests.test_run_modes import free_port, stop

ROOT = Path(__file__).resolve().parent.parent
ROUTES = {"login": "/api/v1/auth/login", "asset upload": "/api/v1/assets",
          "unknown route": "/api/v1/no-such-route"}  # fmt: skip


def serve(var_dir: Path) -> tuple[subprocess.Popen[bytes], int, str]:
    """(the server, its port, an operator's API token)."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(DJANGO_SETTINGS_MODULE="castcore.settings", CASTCORE_VAR_DIR=str(var_dir),
               CASTCORE_EMBEDDED_WORKER="false", DEBUG="true")  # fmt: skip
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
                   cwd=ROOT, env=env, check=True)  # fmt: skip
    made = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", MAKE_OPERATOR],
        cwd=ROOT, env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    token = made.stdout.strip().splitlines()[-1]
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "castcore.serve", "-b", "127.0.0.1", "-p", str(port),
         "castcore.asgi:application"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    time.sleep(1)
    for _ in range(100):
        try:
            exchange(port, post_head("/api/v1/no-such-route", "Content-Length: 0"))
            return server, port, token
        except OSError:
            time.sleep(0.2)
    stop(server)
    raise SystemExit("the server did not start")


def measure(
    pid: int, port: int, name: str, path: str, mode: str, size: int, token: str | None
) -> int:
    """Send one body; print and return the server's peak RSS growth in bytes."""
    sent = 0

    def counted(pieces: Iterator[bytes]) -> Iterator[bytes]:
        nonlocal sent
        for piece in pieces:
            yield piece
            sent += len(piece)

    framing = f"Content-Length: {size}" if mode == "declared" else "Transfer-Encoding: chunked"
    body = counted(zeros(size) if mode == "declared" else chunked(zeros(size)))
    headers = [framing, "Content-Type: application/octet-stream"]
    if token is not None:
        headers.append(f"Authorization: Bearer {token}")
    head = post_head(path, *headers)
    started = time.monotonic()
    written_before = written(pid)
    grown, answer = peak_growth(pid, lambda: exchange(port, head, body))
    grown = max(grown, 0)  # the peak is reset to the RSS of the moment, which may fall
    spooled = written(pid) - written_before
    print(
        f"body_rss_growth_mb={grown / MB:.1f} (route {name}, {size // MB} MiB {mode}, "
        f"{'with a token' if token else 'anonymous'}, written to files {spooled / MB:.1f} MB, "
        f"answered {answer.status} {answer.json()['error']['code']}, "
        f"{sent / MB:.0f} MiB sent in {time.monotonic() - started:.1f} s)",
        flush=True,
    )
    return grown


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=1024, help="body size in MiB")
    args = parser.parse_args()
    size = args.mib * MB
    root = Path(tempfile.mkdtemp(prefix="castcore-bench-bodies-"))
    server, port, token = serve(root / "var")
    try:
        for path in ROUTES.values():  # first use of each route is not counted
            exchange(port, post_head(path, "Transfer-Encoding: chunked"), chunked(zeros(2 * MB)))
        worst = 0
        runs: list[tuple[str, str, str, int, str | None]] = [
            (name, path, mode, size, None)
            for name, path in ROUTES.items()
            for mode in ("declared", "chunked")
        ]
        # Anonymous, the asset upload has the default limit (512 KiB); with a token, its
        # own (500 MB): spooled, read by Django, answered 415 (octet-stream, no form).
        runs.append(("asset upload", ROUTES["asset upload"], "declared", 400 * MB, token))
        for name, path, mode, run_size, run_token in runs:
            grown = measure(server.pid, port, name, path, mode, run_size, run_token)
            worst = max(worst, grown)
        print(f"body_rss_growth_worst_mb={worst / MB:.1f} (aim: < 20)")
    finally:
        stop(server)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
