"""Domain events through the outbox to 10 webhooks: throughput and commit-to-delivery lag.

    DATABASE_URL=postgres://… REDIS_URL=redis://… .venv/bin/python bench/events_outbox.py \
        [--events 300] [--webhooks 10] [--concurrency 8]

Needs PostgreSQL and Redis (the distributed mode: a worker in another process).
Migrates the database it is given, starts one Celery worker on the `default` queue
(threads, --concurrency), a fast HTTP receiver on loopback, and --webhooks webhooks
that want every event. Emits --events events, each in a transaction of its own, and
notes each commit's time; the receiver notes when each (event, webhook) arrives and
checks its signature. Prints how fast events were emitted (the on-commit hand-over
included), how fast deliveries arrived, and the lag from commit to arrival (p50/p99).
Removes its webhooks and events at the end. See bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--webhooks", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    if not (os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL")):
        sys.exit("needs DATABASE_URL and REDIS_URL (a worker in another process)")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "castcore.settings")
    os.environ.setdefault("CASTCORE_VAR_DIR", tempfile.mkdtemp(prefix="bench-events-"))
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, check=True
    )

    import django

    django.setup()
    from django.db import transaction
    from kombu.simple import SimpleQueue

    from apps.integrations.models import Webhook
    from apps.integrations.signing import new_secret, verify
    from castcore.celery import app
    from castcore.events import emit
    from castcore.outbox.models import OutboxEvent

    secret = new_secret()
    arrivals: dict[tuple[str, str], float] = {}
    bad_signatures = 0
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            nonlocal bad_signatures
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            at = time.time()
            headers = {k.lower(): v for k, v in self.headers.items()}
            ok = verify(secret, headers, body, now=int(at))
            with lock:
                arrivals.setdefault((headers.get("webhook-id", ""), self.path), at)
                bad_signatures += not ok
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *a: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    hooks = [
        Webhook.objects.create(
            name=f"bench-{n}", url=f"http://127.0.0.1:{port}/w{n}", secret=secret, events=["*"]
        )
        for n in range(args.webhooks)
    ]
    with app.connection_for_write() as conn:
        SimpleQueue(conn, "default").clear()
    log = Path(os.environ["CASTCORE_VAR_DIR"]) / "bench-events-worker.log"
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "castcore", "worker", "-Q", "default", "-P",
         "threads", "-c", str(args.concurrency), "--without-mingle", "--without-gossip",
         "-l", "WARNING", "-n", f"bench-{uuid.uuid4().hex[:6]}@%h", "--logfile", str(log)],
        cwd=ROOT,
    )  # fmt: skip
    first_id = (OutboxEvent.objects.order_by("-id").values_list("id", flat=True).first()) or 0
    try:
        time.sleep(4)  # the worker is up and consuming
        committed: dict[int, float] = {}
        started = time.time()
        for n in range(args.events):
            with transaction.atomic():
                emit("recording.ready", {"recording_id": n})
            committed[n] = time.time()
        emitted_s = time.time() - started
        expected = args.events * args.webhooks
        deadline = time.time() + 300
        while len(arrivals) < expected and time.time() < deadline:
            time.sleep(0.05)
        delivered_s = max(arrivals.values()) - started if arrivals else float("nan")
        ids = {
            event.message_id: int(event.payload["recording_id"])
            for event in OutboxEvent.objects.filter(id__gt=first_id, event_type="recording.ready")
        }
        lags = [
            at - committed[ids[msg_id]] for (msg_id, _p), at in arrivals.items() if msg_id in ids
        ]
        print(f"events={args.events} webhooks={args.webhooks} worker_threads={args.concurrency}")
        print(f"emit_events_per_s={args.events / emitted_s:.0f}")
        print(f"deliveries={len(arrivals)}/{expected} bad_signatures={bad_signatures}")
        print(f"delivered_per_s={len(arrivals) / delivered_s:.0f}")
        print(f"events_through_per_s={args.events / delivered_s:.1f}")
        if not lags:
            sys.exit(f"nothing arrived; see the worker's log: {log}")
        print(f"lag_p50_ms={1000 * statistics.median(lags):.0f}")
        print(f"lag_p99_ms={1000 * percentile(lags, 0.99):.0f}")
    finally:
        worker.kill()
        worker.wait(10)
        server.shutdown()
        for hook in hooks:
            hook.delete()
        OutboxEvent.objects.filter(id__gt=first_id).delete()


if __name__ == "__main__":
    main()
