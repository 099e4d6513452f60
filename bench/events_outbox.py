"""Domain events through the outbox to 10 webhooks: throughput and commit-to-delivery lag.

    DATABASE_URL=postgres://… REDIS_URL=redis://… .venv/bin/python bench/events_outbox.py \
        [--events 300] [--webhooks 10] [--concurrency 8]            # a burst
        [--rate 4 --duration 30]                                    # a steady rate
        [--find-max --duration 20 [--max-lag 2.0]]                  # the highest steady rate

Needs PostgreSQL and Redis (the distributed mode: a worker in another process).
Migrates the database it is given, starts one Celery worker on the `default` queue
(threads, --concurrency), a fast HTTP receiver on loopback, and --webhooks webhooks
that want every event. Each event is emitted in a transaction of its own, and each
commit's time noted; the receiver notes when each (event, webhook) arrives and checks
its signature.

- Burst (default): --events as fast as they commit. Prints how fast events were
  emitted (the on-commit hand-over included), how fast deliveries arrived, and the lag
  from commit to arrival (p50/p99): mostly the time the backlog took to drain.
- --rate R --duration T: R events per second, evenly spaced, for T seconds, then waits
  for every delivery. The lag at a rate the worker keeps up with is the real one.
- --find-max: --rate steps (1, 2, 3, 4, 6, 8, 12, 16, 24, 32 events/s) for --duration
  each, until one is not sustained: a delivery missing after the drain time, or a p99
  lag over --max-lag seconds (a backlog that grows). Prints each step and the highest
  sustained rate.

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


RATE_STEPS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--webhooks", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rate", type=float, default=0.0, help="events per second, steadily")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds at each rate")
    parser.add_argument("--find-max", action="store_true", help="step the rate up until it lags")
    parser.add_argument("--max-lag", type=float, default=2.0, help="p99 lag (s) still sustained")
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
    committed: dict[int, float] = {}
    numbers = iter(range(10**9))  # recording_id of each event: its commit time's key

    def emit_one() -> None:
        n = next(numbers)
        with transaction.atomic():
            emit("recording.ready", {"recording_id": n})
        committed[n] = time.time()

    def lags_since(since_id: int, numbers_from: int) -> list[float]:
        ids = {
            event.message_id: int(event.payload["recording_id"])
            for event in OutboxEvent.objects.filter(id__gt=since_id, event_type="recording.ready")
        }
        with lock:
            got = list(arrivals.items())
        return [
            at - committed[ids[msg_id]]
            for (msg_id, _path), at in got
            if msg_id in ids and ids[msg_id] >= numbers_from
        ]

    def wait_for(expected: int, timeout: float) -> None:
        deadline = time.time() + timeout
        while len(arrivals) < expected and time.time() < deadline:
            time.sleep(0.05)

    def steady(rate: float, duration: float) -> tuple[bool, str]:
        """Emit `rate` events/s for `duration` s, wait for their deliveries, and report."""
        since_id = OutboxEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
        numbers_from = len(committed)
        before = len(arrivals)
        count = max(1, int(rate * duration))
        started = time.monotonic()
        behind = 0.0  # how far emitting itself fell behind the schedule
        for i in range(count):
            due = started + i / rate
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            else:
                behind = max(behind, -wait)
            emit_one()
        expected = before + count * args.webhooks
        wait_for(expected, timeout=max(30.0, args.max_lag * 5))
        lags = lags_since(since_id, numbers_from)
        arrived = len(arrivals) - before
        p50 = statistics.median(lags) if lags else float("nan")
        p99 = percentile(lags, 0.99) if lags else float("nan")
        sustained = arrived == count * args.webhooks and p99 <= args.max_lag
        line = (
            f"rate={rate:g}/s duration={duration:g}s events={count} "
            f"deliveries={arrived}/{count * args.webhooks} "
            f"deliveries_per_s={rate * args.webhooks:g} "
            f"lag_p50_ms={1000 * p50:.0f} lag_p99_ms={1000 * p99:.0f} "
            f"lag_max_ms={1000 * max(lags, default=float('nan')):.0f} "
            f"emit_behind_ms={1000 * behind:.0f} sustained={'yes' if sustained else 'no'}"
        )
        return sustained, line

    try:
        # Warm-up, not counted: the worker is up and has made its connections and imports
        # (the first event's deliveries took seconds more than any later one's).
        time.sleep(4)
        emit_one()
        wait_for(args.webhooks, timeout=120)
        print(f"webhooks={args.webhooks} worker_threads={args.concurrency} "
              f"loadavg_before={' '.join(f'{x:.2f}' for x in os.getloadavg())}")  # fmt: skip
        if args.find_max:
            best = 0.0
            for rate in RATE_STEPS:
                sustained, line = steady(float(rate), args.duration)
                print(line, flush=True)
                if not sustained:
                    break
                best = float(rate)
            print(f"max_sustained_events_per_s={best:g} "
                  f"max_sustained_deliveries_per_s={best * args.webhooks:g}")  # fmt: skip
        elif args.rate > 0:
            _sustained, line = steady(args.rate, args.duration)
            print(line)
        else:
            before, numbers_from = len(arrivals), len(committed)
            started = time.time()
            for _ in range(args.events):
                emit_one()
            emitted_s = time.time() - started
            expected = args.events * args.webhooks
            wait_for(before + expected, timeout=300)
            delivered = len(arrivals) - before
            delivered_s = max(arrivals.values()) - started
            lags = lags_since(first_id, numbers_from)
            print(f"events={args.events}")
            print(f"emit_events_per_s={args.events / emitted_s:.0f}")
            print(f"deliveries={delivered}/{expected}")
            print(f"delivered_per_s={delivered / delivered_s:.0f}")
            print(f"events_through_per_s={args.events / delivered_s:.1f}")
            if not lags:
                sys.exit(f"nothing arrived; see the worker's log: {log}")
            print(f"lag_p50_ms={1000 * statistics.median(lags):.0f}")
            print(f"lag_p99_ms={1000 * percentile(lags, 0.99):.0f}")
        print(f"bad_signatures={bad_signatures} "
              f"loadavg_after={' '.join(f'{x:.2f}' for x in os.getloadavg())}")  # fmt: skip
    finally:
        worker.kill()
        worker.wait(10)
        server.shutdown()
        for hook in hooks:
            hook.delete()
        OutboxEvent.objects.filter(id__gt=first_id).delete()


if __name__ == "__main__":
    main()
