"""Chat fan-out: many sockets on one stream's chat, a steady rate of messages, latency and CPU.

    .venv/bin/python bench/chat_fanout.py [--sockets 1000] [--senders 200] [--rate 50]
                                          [--seconds 60] [--distributed] [--redis-db 15]
                                          [--owncast] [--web-processes 1] [--fan-out-only]
                                          [--profile PATH]

One real `python -m castcore.serve castcore.asgi:application` process (daphne) on a
private temp VAR_DIR: embedded (SQLite, in-memory channel layer), or with
`--distributed` a temporary PostgreSQL database on 127.0.0.1:5432 and Redis db `--redis-db`
(created, flushed and dropped here). See bench/README.md for what the figures include.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
ROOT = Path(tempfile.mkdtemp(prefix="castcore-bench-chat-"))
PG_DB = f"castcore_bench_chat_{os.getpid()}"
REPO = Path(__file__).resolve().parent.parent
# A bench message's body: its number and the time the client wrote it.
BODY = re.compile(r"m\d+ t(\d+\.\d+)")


def configure(distributed: bool, redis_db: int = 15) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "castcore.settings"
    os.environ["CASTCORE_VAR_DIR"] = str(ROOT / "var")
    os.environ["CASTCORE_EMBEDDED_WORKER"] = "false"  # chat needs no worker
    os.environ.setdefault("CASTCORE_LOG_LEVEL", "WARNING")
    # Every socket comes from 127.0.0.1: the per-address limits would cut the bench's
    # own senders (per-identity limits stay as configured; each sender keeps under them).
    os.environ["CASTCORE_CHAT_ADDRESS_BURST"] = "1000000/3"
    os.environ["CASTCORE_CHAT_ADDRESS_RATE"] = "1000000/60"
    if distributed:
        from cryptography.fernet import Fernet

        subprocess.run(
            ["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", f"CREATE DATABASE {PG_DB}"],
            check=True,
        )
        os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{PG_DB}"
        os.environ["REDIS_URL"] = f"redis://127.0.0.1:6379/{redis_db}"
        os.environ.setdefault("SECRET_KEY", "bench-secret-key-0123456789abcdefghijklmnopqrstuvwxyz")
        os.environ.setdefault("CASTCORE_FERNET_KEYS", Fernet.generate_key().decode())
    else:
        for name in ("DATABASE_URL", "REDIS_URL"):
            os.environ.pop(name, None)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def cleanup(distributed: bool) -> None:
    from django.db import connections

    connections.close_all()
    if distributed:
        import redis

        redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()
        drop = f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)"
        subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", drop], check=False)
    shutil.rmtree(ROOT, ignore_errors=True)


def start_server(port: int, processes: int = 1, profile: str = "") -> subprocess.Popen[bytes]:
    env = dict(os.environ, SECURE_SSL_REDIRECT="false", ALLOWED_HOSTS="127.0.0.1,localhost")
    log = (ROOT / "server.log").open("wb")
    serve = ["--processes", str(processes),
             "-b", "127.0.0.1", "-p", str(port), "castcore.asgi:application"]  # fmt: skip
    if profile:
        # cProfile in the web process's main thread (its event loop), from SIGUSR1 to
        # SIGUSR2: the measured window only, not the sockets' connects.
        argv = [sys.executable, str(REPO / "bench" / "profiled_serve.py"), profile, *serve]
    else:
        argv = [sys.executable, "-m", "castcore.serve", *serve]
    process = subprocess.Popen(argv, cwd=REPO, env=env, stdout=log, stderr=log)
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/system/health", timeout=2)
            return process
        except urllib.error.HTTPError:
            return process  # it answers (503: no worker, which chat does not need)
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError(f"the server did not start; see {ROOT / 'server.log'}")


class Socket(asyncio.Protocol):
    """A raw WebSocket client: text frames are kept with their arrival time, decoded later.

    A WebSocket library parsing 50,000 frames a second on the same 2 cores as the server
    would delay the frames behind them; this only cuts frames (headers) as they come and
    answers the server's pings: daphne closes a socket that has not answered its pings
    within ping interval + timeout (20 + 30 s). Before it answered them, every socket
    was closed some 50 s after it connected, and a 60 s run lost the messages of senders
    whose socket was closed (and every message to a closed socket).
    """

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.upgraded: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.handshake = b""
        self.buffer = b""
        self.found: list[tuple[float, bytes]] = []
        self.closed_by_server = False
        self.close_code: int | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self.upgraded.done():
            self._cut(time.time(), data)
            return
        self.handshake += data
        head, found, rest = self.handshake.partition(b"\r\n\r\n")
        if found:
            if not head.startswith(b"HTTP/1.1 101"):
                self.upgraded.set_exception(RuntimeError(head.decode(errors="replace")))
                return
            self.upgraded.set_result(None)
            if rest:
                self._cut(time.time(), rest)

    def _cut(self, arrived: float, data: bytes) -> None:
        buffer = self.buffer + data
        at = 0
        while len(buffer) - at >= 2:
            opcode, length, header = buffer[at] & 0x0F, buffer[at + 1] & 0x7F, 2
            if length == 126:
                length, header = int.from_bytes(buffer[at + 2 : at + 4], "big"), 4
            elif length == 127:
                length, header = int.from_bytes(buffer[at + 2 : at + 10], "big"), 10
            if len(buffer) - at < header + length:
                break
            payload = buffer[at + header : at + header + length]
            if opcode == 0x1:
                self.found.append((arrived, payload))
            elif opcode == 0x9:
                self._write(0xA, payload)  # pong
            elif opcode == 0x8:
                self.closed_by_server = True
                self.close_code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else None
            at += header + length
        self.buffer = buffer[at:]

    def _write(self, opcode: int, payload: bytes) -> None:
        mask = os.urandom(4)
        size = len(payload)
        if size < 126:
            header = bytes([0x80 | opcode, 0x80 | size])
        else:
            header = bytes([0x80 | opcode, 0xFE]) + size.to_bytes(2, "big")
        masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
        assert self.transport is not None
        self.transport.write(header + mask + masked)

    def send_text(self, text: str) -> None:
        self._write(0x1, text.encode())

    def frames(self) -> list[tuple[float, bytes]]:
        return self.found

    def close(self) -> None:
        if self.transport is not None:
            self.transport.write(b"\x88\x80" + os.urandom(4))
            self.transport.close()


async def connect(port: int, path: str) -> Socket:
    loop = asyncio.get_running_loop()
    _, sock = await loop.create_connection(Socket, "127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    assert sock.transport is not None
    sock.transport.write(
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        "Origin: http://127.0.0.1\r\n\r\n".encode()
    )
    await asyncio.wait_for(sock.upgraded, 120)
    return sock


def cpu_seconds(pid: int) -> float:
    import psutil

    process = psutil.Process(pid)
    total = 0.0
    for each in [process, *process.children(recursive=True)]:
        times = each.cpu_times()
        total += times.user + times.system
    return total


async def run(args: argparse.Namespace, port: int, server_pid: int) -> None:
    from asgiref.sync import sync_to_async

    from apps.chat import services
    from apps.chat.tests.factories import LiveStreamFactory

    stream = await sync_to_async(LiveStreamFactory)()
    # Owncast's socket takes registered users only: every socket has an identity then.
    registered = args.sockets if args.owncast else args.senders
    tokens = [
        (await sync_to_async(services.identity_register)(display_name=f"sender {n}"))[1]
        for n in range(registered)
    ]
    path = f"/owncast/{stream.slug}/ws" if args.owncast else f"/api/v1/ws/chat/{stream.pk}"
    token_param = "accessToken" if args.owncast else "access_token"
    opening_frames = 1 if args.owncast else 2  # CONNECTED_USER_INFO (and BACKLOG natively)
    sockets: list[Socket] = []
    started = time.monotonic()
    # In batches: a thousand handshakes at once would be a thundering herd, not the steady state.
    for first in range(0, args.sockets, 50):
        batch = []
        for n in range(first, min(first + 50, args.sockets)):
            query = f"?{token_param}={tokens[n]}" if n < registered else ""
            batch.append(connect(port, path + query))
        sockets += await asyncio.gather(*batch)
    deadline = time.monotonic() + 120
    while not all(len(s.frames()) >= opening_frames for s in sockets):
        assert time.monotonic() < deadline, "some sockets got no opening frames"
        await asyncio.sleep(0.2)
    print(f"{len(sockets)} sockets connected in {time.monotonic() - started:.1f} s")
    await asyncio.sleep(2)  # USER_JOINED frames settle
    opened = [len(s.found) for s in sockets]

    from channels.layers import get_channel_layer

    from apps.chat.events import chat_group

    layer, group = get_channel_layer(), chat_group(stream.pk)
    load_before = os.getloadavg()[0]
    if args.profile:
        os.kill(server_pid, signal.SIGUSR1)
    cpu_before, wall_before = cpu_seconds(server_pid), time.monotonic()
    client_before = time.process_time()
    interval = 1.0 / args.rate
    total = int(args.rate * args.seconds)
    begin = time.monotonic()
    for n in range(total):
        target = begin + n * interval
        delay = target - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        body = f"m{n} t{time.time():.6f}"
        if args.fan_out_only:
            # Straight into the stream's group, as a stored message's publish would be:
            # the fan-out alone, without the socket's receive, the store and the commit.
            frame = {"type": "CHAT", "id": n, "body": body, "visible": True, "user": None}
            await layer.group_send(
                group, {"type": "chat.event", "audience": "all", "frame": json.dumps(frame),
                        "message_id": None},
            )  # fmt: skip
        else:
            sender = sockets[n % args.senders]
            sender.send_text(json.dumps({"type": "CHAT", "body": body}))
    # The last messages arrive: wait until nothing has come for 10 s (at most 180 s), so a
    # backlog the server built up is measured, not cut off.
    settle = time.monotonic() + 180
    seen, quiet_since = -1, time.monotonic()
    while time.monotonic() < settle and time.monotonic() - quiet_since < 10:
        await asyncio.sleep(0.5)
        now_seen = sum(len(s.found) for s in sockets)
        if now_seen != seen:
            seen, quiet_since = now_seen, time.monotonic()
    wall = time.monotonic() - wall_before
    cpu = cpu_seconds(server_pid) - cpu_before
    if args.profile:
        os.kill(server_pid, signal.SIGUSR2)
    client_cpu = time.process_time() - client_before
    for s in sockets:
        s.close()

    latencies: list[float] = []
    errors = foreign = 0
    per_socket_counts: list[int] = []
    per_socket_reads: list[int] = []
    early_errors = {
        json.loads(payload)["error"]["code"]
        for s, count in zip(sockets, opened, strict=True)
        for _, payload in s.found[:count]
        if payload.startswith(b'{"type":"ERROR"')
    }
    if early_errors:
        print(f"error frames before the messages started: {sorted(early_errors)}")
    for index, s in enumerate(sockets):
        s.found[: opened[index]] = []
        count = 0
        for arrived, payload in s.frames():
            # Owncast's socket sends the events of one delivery in one frame, one per line.
            for line in payload.split(b"\n"):
                frame = json.loads(line)
                if frame["type"] == "ERROR":
                    errors += 1
                if frame["type"] != "CHAT":
                    continue
                found = BODY.fullmatch(frame["body"])
                if found is None:
                    # Redis pub/sub channels are not per database: another CastCore (tests,
                    # say) on the same Redis server with a chat group of the same name.
                    foreign += 1
                    continue
                latencies.append(arrived - float(found[1]))
                count += 1
        per_socket_counts.append(count)
        # Frames that came in one read came in one write of the server's (one fan-out pass).
        per_socket_reads.append(len({arrived for arrived, _ in s.frames()}))
    if not latencies:
        print("no messages arrived; see", ROOT / "server.log")
        return
    latencies.sort()

    def pct(fraction: float) -> float:
        return latencies[min(len(latencies) - 1, int(len(latencies) * fraction))] * 1000

    expected = total * len(sockets)
    closed = sum(s.closed_by_server for s in sockets)
    codes = sorted({s.close_code for s in sockets if s.closed_by_server}, key=str)
    mode = "distributed" if args.distributed else "embedded"
    print(
        f"{len(latencies)} deliveries of {total} messages to {len(sockets)} sockets "
        f"({expected - len(latencies)} missing, {errors} error frames; fewest per socket "
        f"{min(per_socket_counts)}; {closed} closed by the server, codes {codes}; "
        f"{foreign} frames from another server on this Redis), "
        f"{args.rate}/s for {args.seconds} s, {mode}, {args.web_processes} web process(es)"
        + (", fan-out only" if args.fan_out_only else "")
        + (", Owncast sockets" if args.owncast else "")
    )
    print(
        f"chat_latency_ms p50 {pct(0.5):.1f} p99 {pct(0.99):.1f} max {latencies[-1] * 1000:.1f} "
        "(send to receive, over every socket; aim p99 < 100)"
    )
    reads = sorted(per_socket_reads)[len(per_socket_reads) // 2]
    print(
        f"reads per socket: median {reads} ({total / max(reads, 1):.2f} messages a read; "
        "a read is about one fan-out pass of the server)"
    )
    print(
        f"chat_web_cpu {100 * cpu / wall:.0f} % of a core (web processes, over {wall:.0f} s; "
        f"{1e6 * cpu / len(latencies):.1f} us per delivery); "
        f"bench client {100 * client_cpu / wall:.0f} % of a core; "
        f"load average {load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end "
        f"({os.cpu_count()} CPUs)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sockets", type=int, default=1000)
    parser.add_argument("--senders", type=int, default=200)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--distributed", action="store_true")
    parser.add_argument("--redis-db", type=int, default=15, help="flushed at the end")
    parser.add_argument(
        "--web-processes",
        type=int,
        default=1,
        help="daphne processes on the one port (castcore.serve --processes; distributed only)",
    )
    parser.add_argument(
        "--fan-out-only",
        action="store_true",
        help="publish to the stream's group from here (distributed only): the fan-out alone",
    )
    parser.add_argument(
        "--owncast",
        action="store_true",
        help="Owncast's chat socket (/owncast/<slug>/ws?accessToken=), every socket registered",
    )
    parser.add_argument(
        "--profile",
        default="",
        metavar="PATH",
        help="cProfile the web process's event loop over the measured window (pstats to PATH;"
        " one web process; slows it down, so its latencies are not the bench's)",
    )
    args = parser.parse_args()
    assert args.senders <= args.sockets
    assert args.distributed or not args.fan_out_only, "--fan-out-only needs --distributed"
    assert args.distributed or args.web_processes == 1, "--web-processes needs --distributed"
    assert not args.profile or args.web_processes == 1, "--profile takes one web process"
    configure(args.distributed, args.redis_db)
    from castcore.tests.test_run_modes import free_port, stop

    port = free_port()
    server = None
    try:
        profile = os.path.abspath(args.profile) if args.profile else ""
        server = start_server(port, args.web_processes, profile)
        asyncio.run(run(args, port, server.pid))
    finally:
        if server is not None:
            stop(server)
        shutil.copy(ROOT / "server.log", Path(tempfile.gettempdir()) / "bench-chat-server.log")
        cleanup(args.distributed)


if __name__ == "__main__":
    main()
