"""Stream-job benchmarks: supervisor overhead, start latency, log fan-out latency.

    .venv/bin/python bench/bench_streams.py [--jobs 20] [--seconds 60] [--sockets 200]
                                            [--rounds 5] [--start-rounds 30]
                                            [--distributed] [--only 1,2,3]

Runs on a private VAR_DIR. (1) supervises jobs in this process. (2) and (3) drive
real servers over HTTP and WebSockets: embedded, one `python -m castcore.serve`
(SQLite, in-memory layer, filesystem broker, its own worker); `--distributed`, the
server and a separate Celery worker process on a temporary PostgreSQL database
(127.0.0.1:5432) and Redis db 15 (created, flushed and dropped here).
See bench/README.md for what each figure includes.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
ROOT = Path(tempfile.mkdtemp(prefix="castcore-bench-"))
PG_DB = f"castcore_bench_{os.getpid()}"


def configure(distributed: bool) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "castcore.settings"
    os.environ["CASTCORE_VAR_DIR"] = str(ROOT / "var")
    os.environ["CASTCORE_EMBEDDED_WORKER"] = "false"  # (1) supervises in this process
    # Jobs read and write files under ROOT only.
    os.environ["CASTCORE_OUTPUT_ROOTS"] = os.environ["CASTCORE_INPUT_ROOTS"] = str(ROOT)
    os.environ.setdefault("CASTCORE_LOG_LEVEL", "WARNING")
    if distributed:
        from cryptography.fernet import Fernet

        subprocess.run(
            ["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", f"CREATE DATABASE {PG_DB}"],
            check=True,
        )
        os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{PG_DB}"
        os.environ["REDIS_URL"] = "redis://127.0.0.1:6379/15"
        os.environ.setdefault("SECRET_KEY", "bench-secret-key-0123456789abcdefghijklmnopqrstuvwxyz")
        os.environ.setdefault("CASTCORE_FERNET_KEYS", Fernet.generate_key().decode())
    else:  # whatever the calling shell has set: embedded means SQLite and in-process parts
        for name in ("DATABASE_URL", "REDIS_URL"):
            os.environ.pop(name, None)
    try:
        import django

        django.setup()
        from django.conf import settings
        from django.core.management import call_command

        settings.ALLOWED_HOSTS = ["*"]
        settings.SECURE_SSL_REDIRECT = False  # the in-process client speaks plain HTTP
        Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)
        call_command("migrate", verbosity=0)
    except BaseException:
        if distributed:  # main() cleans up only once this has worked
            _drop_database()
        raise


def _drop_database() -> None:
    drop = f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)"
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", drop], check=False)


def cleanup(distributed: bool) -> None:
    from django.db import connections

    connections.close_all()
    if distributed:
        import redis

        redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()
        _drop_database()
    shutil.rmtree(ROOT, ignore_errors=True)


# ------------------------------------------------------------------ fixtures


def make_job(name: str, *, copy: bool, outputs: list[dict[str, Any]], **fields: Any) -> Any:
    from apps.accounts.models import User
    from apps.streams.models import FFmpegProfile, StreamJob, StreamOutput

    owner, _ = User.objects.get_or_create(username="bench", defaults={"role": "admin"})
    profile, _ = FFmpegProfile.objects.get_or_create(
        name="copy" if copy else "x264-small",
        defaults={"video_codec": "copy", "audio_codec": "copy"}
        if copy
        else {
            "preset": "ultrafast",
            "video_bitrate_kbps": 300,
            "width": 320,
            "height": 240,
            "keyframe_interval_s": 1.0,
            "audio_bitrate_kbps": 64,
        },
    )
    job = StreamJob.objects.create(
        name=name, owner=owner, created_by=owner, profile=profile, **fields
    )
    for position, output in enumerate(outputs):
        StreamOutput.objects.create(job=job, position=position, **output)
    return job


class Supervised(threading.Thread):
    """A run's task body on its own thread, as a thread-pool Celery worker runs it."""

    def __init__(self, job: Any) -> None:
        super().__init__(daemon=True)
        from django.db import transaction
        from django.utils import timezone

        from apps.streams.models import JobState
        from apps.streams.services.control import begin_run

        with transaction.atomic():
            run = begin_run(
                job_id=job.pk, state_changed_at=timezone.now(), from_states=(JobState.STOPPED,)
            )
        assert run is not None
        self.run_row = run

    def run(self) -> None:
        from django.db import connections

        from apps.streams.runtime.supervisor import run_stream

        try:
            run_stream(run_id=self.run_row.pk, token=self.run_row.fencing_token, worker="bench")
        finally:
            connections.close_all()


def stop_jobs(jobs: list[Any], threads: list[Supervised]) -> None:
    from apps.streams.services.control import stream_job_stop

    for job in jobs:
        job.refresh_from_db()
        stream_job_stop(actor=None, job=job)
    for thread in threads:
        thread.join(30)


# ------------------------------------------------------------------ (1) supervisor overhead


def bench_overhead(jobs_n: int, seconds: float) -> tuple[float, float, float, float]:
    import psutil

    from workers.ffmpeg.testing import make_video

    media = make_video(ROOT / "loop.mkv", seconds=10, size=(640, 360), rate=25)
    me = psutil.Process()
    base_rss = me.memory_info().rss
    jobs = []
    for i in range(jobs_n):
        job = make_job(
            f"copy {i}",
            copy=True,
            outputs=[{"kind": "file", "url": str(ROOT / f"out{i}.mkv"), "container": "matroska"}],
            input_kind="file",
            input_path=str(media),
            loop=True,
            realtime=True,
        )
        jobs.append(job)
    threads = [Supervised(job) for job in jobs]
    for thread in threads:
        thread.start()
    time.sleep(5)  # past start-up: claims, spawns, first heartbeats
    children = [p for p in me.children(recursive=True) if p.name() == "ffmpeg"]
    cpu0, wall0 = me.cpu_times(), time.monotonic()
    kids0 = {p.pid: p.cpu_times() for p in children}
    time.sleep(seconds)
    cpu1, wall = me.cpu_times(), time.monotonic() - wall0
    kids_cpu = sum(
        p.cpu_times().user + p.cpu_times().system - kids0[p.pid].user - kids0[p.pid].system
        for p in children
        if p.is_running()
    )
    kids_rss = sum(p.memory_info().rss for p in children if p.is_running())
    rss = me.memory_info().rss
    sup_cpu = (cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)
    print(
        f"(1) {len(children)} ffmpeg processes for {jobs_n} copy jobs over {wall:.0f} s "
        "(file input looped -re, -c copy to mkv)"
    )
    print(
        f"(1) supervising process: {100 * sup_cpu / wall / jobs_n:.3f}% of a core per job "
        "(aim < 0.5%), "
        f"{(rss - base_rss) / jobs_n / 2**20:.1f} MB RSS per job (aim < 15 MB)"
    )
    print(
        f"(1) ffmpeg processes:    {100 * kids_cpu / wall / max(len(children), 1):.3f}% "
        "of a core per job, "
        f"{kids_rss / max(len(children), 1) / 2**20:.1f} MB RSS per job"
    )
    stop_jobs(jobs, threads)
    return (
        100 * sup_cpu / wall / jobs_n,
        (rss - base_rss) / jobs_n / 2**20,
        100 * kids_cpu / wall / max(len(children), 1),
        kids_rss / max(len(children), 1) / 2**20,
    )


# ------------------------------------------------------------------ servers and clients


class Servers:
    """The real server processes: `python -m castcore.serve` (daphne), plus in the
    distributed mode a separate Celery worker process (thread pool, queue ffmpeg).
    In the embedded mode the server process runs the worker itself, as in production."""

    def __init__(self, distributed: bool, web_processes: int = 1) -> None:
        from castcore.tests.test_run_modes import free_port

        self.distributed = distributed
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ)
        env.update(
            SECURE_SSL_REDIRECT="false",
            CASTCORE_EMBEDDED_WORKER="false" if distributed else "true",
            CASTCORE_LOG_LEVEL="WARNING",
        )
        repo = Path(__file__).resolve().parent.parent
        self.log = (ROOT / "servers.log").open("wb")
        server_argv = [sys.executable, "-m", "castcore.serve", "--processes",
                       str(web_processes), "-b", "127.0.0.1", "-p", str(self.port),
                       "castcore.asgi:application"]  # fmt: skip
        self.processes = [
            subprocess.Popen(server_argv, cwd=repo, env=env, stdout=self.log, stderr=self.log)
        ]
        if distributed:
            worker_argv = [sys.executable, "-m", "celery", "-A", "castcore", "worker", "-P",
                           "threads", "-c", "4", "-Q", "ffmpeg", "-n", "bench@%h",
                           "--without-mingle", "--without-gossip", "-l", "WARNING"]  # fmt: skip
            self.processes.append(
                subprocess.Popen(worker_argv, cwd=repo, env=env, stdout=self.log, stderr=self.log)
            )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, timeout: float = 60) -> None:
        import requests

        from apps.system.models import WorkerHeartbeat

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                requests.get(f"{self.base}/api/v1/system/health", timeout=2)
                if WorkerHeartbeat.objects.exists():  # the worker's first beat: it consumes
                    return
            except (requests.ConnectionError, requests.Timeout):
                pass
            time.sleep(0.3)
        raise RuntimeError(f"servers did not start; see {ROOT / 'servers.log'}")

    def stop(self) -> None:
        from castcore.tests.test_run_modes import stop

        for process in self.processes:
            stop(process)
        self.log.close()
        shutil.copy(ROOT / "servers.log", Path(tempfile.gettempdir()) / "bench-servers.log")


class Client:
    """HTTP (one keep-alive session) and WebSocket URLs with a bearer token of the bench user."""

    def __init__(self, servers: Servers) -> None:
        import requests
        from rest_framework_simplejwt.tokens import AccessToken

        from apps.accounts.models import User

        user = User.objects.get_or_create(username="bench", defaults={"role": "admin"})[0]
        self.token = str(AccessToken.for_user(user))
        self.servers = servers
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {self.token}"

    def post(self, path: str) -> None:
        response = self.session.post(f"{self.servers.base}/api/v1{path}", json={}, timeout=30)
        assert response.status_code < 300, (response.status_code, response.text[:500])

    def ws_url(self, path: str) -> str:
        glue = "&" if "?" in path else "?"
        return f"ws://127.0.0.1:{self.servers.port}/api/v1/ws/{path}{glue}token={self.token}"

    async def connect(self, path: str) -> Any:
        import websockets

        return await websockets.connect(
            self.ws_url(path),
            origin=websockets.Origin("http://127.0.0.1"),
            compression=None,
            max_queue=None,
            open_timeout=60,
        )


def wait_stopped(job: Any, timeout: float = 30) -> None:
    """The worker finishes the run (and stops writing under ROOT) before we go on."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.state in ("stopped", "failed"):
            return
        time.sleep(0.1)


def small_x264_job(name: str, output: str) -> Any:
    return make_job(
        name,
        copy=False,
        outputs=[{"kind": "file", "url": str(ROOT / output)}],
        realtime=True,
        input_width=320,
        input_height=240,
    )


# ------------------------------------------------------------------ (2) start latency


def first_progress_plain(argv: list[str]) -> float:
    started = time.monotonic()
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith(b"progress="):
            break
    elapsed = time.monotonic() - started
    proc.kill()
    proc.wait()
    return elapsed


@dataclass
class StartTimes:
    """Seconds from sending POST start: its response, the "running" frame, the first progress."""

    response: float
    running: float
    progress: float


async def _read_response(reader: asyncio.StreamReader) -> None:
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *headers = head.decode("latin-1").split("\r\n")
    length = next(
        (int(h.split(":", 1)[1]) for h in headers if h.lower().startswith("content-length:")), 0
    )
    body = await reader.readexactly(length)
    code = int(status_line.split()[1])
    assert code < 300, (code, body[:500])


async def _first_progress_frame(client: Client, job_id: int, timeout: float = 30) -> StartTimes:
    ws = await client.connect("status")
    # The POST is written, ready made, on a connection opened beforehand: the clock
    # starts when the request leaves, not while an HTTP library builds it on a thread.
    reader, writer = await asyncio.open_connection("127.0.0.1", client.servers.port)
    request = (
        f"POST /api/v1/stream-jobs/{job_id}/start HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{client.servers.port}\r\nAuthorization: Bearer {client.token}\r\n"
        "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
    ).encode()
    try:
        assert json.loads(await ws.recv())["type"] == "snapshot"
        started = time.monotonic()
        answered: list[float] = []
        writer.write(request)
        post = asyncio.ensure_future(_read_response(reader))
        post.add_done_callback(lambda _: answered.append(time.monotonic() - started))
        running = float("nan")
        while time.monotonic() - started < timeout:
            frame = json.loads(await asyncio.wait_for(ws.recv(), timeout))
            if frame.get("job_id") != job_id:
                continue
            if frame.get("state") == "running" and running != running:  # the first one (nan)
                running = time.monotonic() - started
            if frame.get("out_time_s") is not None:
                elapsed = time.monotonic() - started
                await post
                return StartTimes(answered[0], running, elapsed)
        raise TimeoutError("no progress frame")
    finally:
        writer.close()
        await ws.close()


def bench_start(client: Client, rounds: int) -> tuple[float, float]:
    from apps.streams.specs import job_spec_for
    from workers.ffmpeg.argv import build_argv

    ours: list[StartTimes] = []
    plain: list[float] = []
    # Round 0 warms up and is not counted: the first start after the servers came up
    # also pays for lazy imports and first connections (it took 250-500 ms).
    for i in range(rounds + 1):
        job = small_x264_job(f"start {i}", f"s{i}.mkv")
        # The argv the worker will run for this job, unsupervised: same input, filters,
        # encoder, output and -progress pipe:1 -stats_period.
        argv = build_argv(job_spec_for(job, workdir=ROOT / "w"), ROOT / "w")
        plain.append(first_progress_plain(argv))
        ours.append(asyncio.run(_first_progress_frame(client, job.pk)))
        client.post(f"/stream-jobs/{job.pk}/stop")
        wait_stopped(job)
        # The worker still tears the run down after the job reads stopped (its control
        # listener, its folder): let it finish, so the next round's plain ffmpeg does
        # not share the cores with it.
        time.sleep(0.25)
    ours, plain = ours[1:], plain[1:]
    median_ours = statistics.median(t.progress for t in ours)
    median_plain = statistics.median(plain)
    print(
        "(2) POST /stream-jobs/{id}/start -> first status frame with progress on the "
        f"/api/v1/ws/status socket: median {median_ours * 1000:.0f} ms over {rounds} "
        f"(runs: {', '.join(f'{t.progress * 1000:.0f}' for t in ours)}); of which the POST's "
        f"response came at {statistics.median(t.response for t in ours) * 1000:.0f} ms and the "
        f"'running' frame (ffmpeg spawned) at "
        f"{statistics.median(t.running for t in ours) * 1000:.0f} ms"
    )
    # Each round's own difference: ffmpeg's start varies from round to round by as much
    # as CastCore adds, and this is the part CastCore adds.
    added = statistics.median(t.progress - p for t, p in zip(ours, plain, strict=True))
    print(
        f"(2) plain ffmpeg, same argv -> its first -progress block: median "
        f"{median_plain * 1000:.0f} ms (runs: {', '.join(f'{t * 1000:.0f}' for t in plain)}); "
        f"ratio {median_ours / median_plain:.2f}x (aim <= 1.5x); CastCore's part, round by "
        f"round: median {added * 1000:.0f} ms"
    )
    return median_ours, median_plain


# ------------------------------------------------------------------ (3) log fan-out


class _Arrivals(asyncio.Protocol):
    """A log socket read as raw bytes: each read is kept with the time it arrived.

    A WebSocket library parses every frame as it comes, ~7,400 frames per burst for
    200 sockets; that CPU is the client's, taken from the servers on the same 2 cores,
    and it delayed the frames still to be read. Frames are cut out after the runs;
    a frame arrived when the read that completed it did.
    """

    def __init__(self) -> None:
        self.reads: list[tuple[float, bytes]] = []
        self.handshake = b""
        self.upgraded = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self.upgraded.done():
            self.reads.append((time.time(), data))
            return
        self.handshake += data
        head, found, rest = self.handshake.partition(b"\r\n\r\n")
        if found:
            if not head.startswith(b"HTTP/1.1 101"):
                self.upgraded.set_exception(RuntimeError(head.decode(errors="replace")))
                return
            self.upgraded.set_result(None)
            if rest:
                self.reads.append((time.time(), rest))

    def frames(self) -> list[tuple[float, bytes]]:
        """(arrival, payload) of each text frame (server frames are not masked)."""
        found: list[tuple[float, bytes]] = []
        buffer = b""
        for arrived, data in self.reads:
            buffer += data
            at = 0  # where the next frame starts
            while len(buffer) - at >= 2:
                opcode, length, header = buffer[at] & 0x0F, buffer[at + 1] & 0x7F, 2
                if length == 126:
                    length, header = int.from_bytes(buffer[at + 2 : at + 4], "big"), 4
                elif length == 127:
                    length, header = int.from_bytes(buffer[at + 2 : at + 10], "big"), 10
                if len(buffer) - at < header + length:
                    break  # the rest of this frame comes in a later read
                if opcode == 0x1:
                    found.append((arrived, buffer[at + header : at + header + length]))
                at += header + length
            buffer = buffer[at:]
        return found

    def close(self) -> None:
        if self.transport is not None:
            self.transport.write(b"\x88\x80" + os.urandom(4))  # a masked, empty close frame
            self.transport.close()


async def _raw_connect(client: Client, path: str) -> _Arrivals:
    import base64

    loop = asyncio.get_running_loop()
    _, socket = await loop.create_connection(_Arrivals, "127.0.0.1", client.servers.port)
    target = client.ws_url(path).removeprefix(f"ws://127.0.0.1:{client.servers.port}")
    key = base64.b64encode(os.urandom(16)).decode()
    assert socket.transport is not None
    socket.transport.write(
        f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{client.servers.port}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        "Origin: http://127.0.0.1\r\n\r\n".encode()
    )
    await asyncio.wait_for(socket.upgraded, 60)
    return socket


async def _fan_out(
    client: Client, job: Any, sockets: int, runs: int, batched: bool
) -> tuple[list[float], list[float], int]:
    path = f"logs/{job.pk}" + ("?batch=1" if batched else "")
    connections = await asyncio.gather(*(_raw_connect(client, path) for _ in range(sockets)))
    deadline = time.monotonic() + 60
    while not all(conn.frames() for conn in connections):  # each has its opening tail
        assert time.monotonic() < deadline, "a socket got no opening frame"
        await asyncio.sleep(0.1)
    opened = [len(conn.reads) for conn in connections]
    for _ in range(runs):
        await asyncio.to_thread(client.post, f"/stream-jobs/{job.pk}/start")
        await asyncio.sleep(2.0)  # ffmpeg prints its banner, stream maps, first warnings
        await asyncio.to_thread(client.post, f"/stream-jobs/{job.pk}/stop")
        await asyncio.to_thread(wait_stopped, job)
        await asyncio.sleep(0.5)
    for conn in connections:
        conn.close()
    latencies: list[float] = []
    first_socket: list[float] = []  # the socket that joined first: no fan-out ahead of it
    frames = 0
    for index, conn in enumerate(connections):
        conn.reads[: opened[index]] = []  # not the opening tail
        for arrived, payload in conn.frames():
            frame = json.loads(payload)
            if frame["type"] not in ("log", "logs"):
                continue
            frames += 1
            for line in frame["lines"] if frame["type"] == "logs" else [frame]:
                if line["type"] == "log":  # each line from its own parse time
                    latency = arrived - _timestamp(line["at"])
                    latencies.append(latency)
                    if index == 0:
                        first_socket.append(latency)
    return latencies, first_socket, frames // sockets


@functools.lru_cache(maxsize=4096)
def _timestamp(iso: str) -> float:
    # 200 sockets get the same `at` strings: parse each once, so the client's own
    # CPU (on the same 2 cores) delays the frames behind it as little as it can.
    return datetime.fromisoformat(iso).timestamp()


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] * 1000


def bench_logs(client: Client, sockets: int, runs: int, batched: bool) -> tuple[float, float, int]:
    job = small_x264_job("logs", "logs.mkv")
    latencies, first_socket, frames = asyncio.run(_fan_out(client, job, sockets, runs, batched))
    if not latencies:
        print("(3) no log frames arrived")
        return float("nan"), float("nan"), 0
    p50, p99 = _percentile(latencies, 0.5), _percentile(latencies, 0.99)
    lines = len(latencies) // sockets
    kind = "?batch=1 (one frame per burst)" if batched else "(one frame per line)"
    print(
        f"(3) {len(latencies)} line deliveries ({lines} lines x {sockets} /api/v1/ws/logs/{{id}}"
        f"{kind} sockets, {runs} runs; {frames} frames per socket) from the supervisor's "
        "parse of each ffmpeg line to "
        f"its arrival at the client: p50 {p50:.1f} ms, p99 {p99:.1f} ms (aim p99 < 50 ms); "
        f"at the first-joined socket alone: p50 {_percentile(first_socket, 0.5):.1f} ms, "
        f"p99 {_percentile(first_socket, 0.99):.1f} ms"
    )
    return p50, p99, lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--sockets", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5, help="runs of (3)")
    # Each round of (2) is short; more of them steady the medians on a noisy machine.
    parser.add_argument("--start-rounds", type=int, default=30, help="rounds of (2)")
    parser.add_argument("--distributed", action="store_true")
    parser.add_argument(
        "--web-processes",
        type=int,
        default=None,
        help="daphne processes (castcore.serve --processes); distributed only; default: CPUs",
    )
    parser.add_argument("--only", default="1,2,3")
    args = parser.parse_args()
    configure(args.distributed)
    web_processes = 1
    if args.distributed:
        web_processes = args.web_processes or os.cpu_count() or 1
    only = set(args.only.split(","))
    mode = f"distributed, {web_processes} web processes" if args.distributed else "embedded"
    detail = (
        f"PostgreSQL + Redis layer and broker, {web_processes} daphne process(es) and a "
        "Celery worker process"
        if args.distributed
        else "SQLite + in-memory layer + filesystem broker, one daphne process with its worker"
    )
    print(f"mode: {mode} ({detail}); {os.cpu_count()} CPUs")
    summary = []
    servers = None
    try:
        if "1" in only:
            cpu, rss, ff_cpu, ff_rss = bench_overhead(args.jobs, args.seconds)
            summary.append(
                f"supervisor_per_job={cpu:.3f}% of a core, {rss:.1f} MB "
                f"(ffmpeg {ff_cpu:.2f}%, {ff_rss:.1f} MB; {args.jobs} copy jobs, {mode})"
            )
        if only & {"2", "3"}:
            servers = Servers(args.distributed, web_processes)
            client = Client(servers)
        if "3" in only:
            for batched in (False, True):
                p50, p99, lines = bench_logs(client, args.sockets, args.rounds, batched)
                name = "log_fanout_batched_p99_ms" if batched else "log_fanout_p99_ms"
                summary.append(
                    f"{name}={p99:.1f} (p50 {p50:.1f} ms, {lines} lines x "
                    f"{args.sockets} sockets, {mode})"
                )
        if "2" in only:
            ours, plain = bench_start(client, args.start_rounds)
            summary.append(
                f"start_latency_ratio={ours / plain:.2f} (castcore {ours * 1000:.0f} ms, "
                f"plain ffmpeg {plain * 1000:.0f} ms, {mode})"
            )
    finally:
        if servers is not None:
            servers.stop()
        cleanup(args.distributed)
    for line in summary:
        print(line)


if __name__ == "__main__":
    main()
