"""The two run modes, tested as real processes."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
# How long a server process may take to answer once started: loading Django takes more
# than 30 s on a 2-core machine that runs four test workers and their servers at once.
SERVER_START_S = 120.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def embedded_env(var_dir: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "CASTCORE_FERNET_KEYS"}
    }
    env.update(
        DJANGO_SETTINGS_MODULE="castcore.settings",
        CASTCORE_VAR_DIR=str(var_dir),
        CASTCORE_WORKER_HEARTBEAT_SECONDS="1",
        DEBUG="true",
    )
    return env


def get_json(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (loopback only)
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def wait_for_health(url: str, deadline_s: float = SERVER_START_S) -> tuple[int, Any]:
    deadline = time.monotonic() + deadline_s
    last: tuple[int, Any] = (0, None)
    while time.monotonic() < deadline:
        try:
            last = get_json(url)
            if last[0] == 200:
                return last
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    return last


def wait_for_answer(url: str, deadline_s: float = SERVER_START_S) -> None:
    """Until the server answers at all (503 too: no worker runs in some tests)."""
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            get_json(url)
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            assert time.monotonic() < deadline, "the server did not answer"
            time.sleep(0.3)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.mark.slow
def test_daphne_alone_is_a_complete_server_in_embedded_mode(tmp_path: Path) -> None:
    env = embedded_env(tmp_path / "var")
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True
    )
    port = free_port()
    daphne = subprocess.Popen(
        [str(VENV_BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port), "castcore.asgi:application"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        health = f"http://127.0.0.1:{port}/api/v1/system/health"
        status, body = wait_for_health(health, SERVER_START_S)
        # Healthy means the in-process worker started with the ASGI app and beats.
        assert status == 200, body
        assert body["checks"]["workers"]["ok"] and body["checks"]["broker"]["ok"]
    finally:
        stop(daphne)
    assert (tmp_path / "var" / "castcore.sqlite3").exists()


@pytest.mark.slow
def test_a_separate_worker_process_makes_the_deployment_healthy(
    distributed_db: dict[str, str], api: Any
) -> None:
    assert api.get("/api/v1/system/health").json()["failing"] == ["workers"]
    worker = subprocess.Popen(
        [
            str(VENV_BIN / "celery"),
            "-A",
            "castcore",
            "worker",
            "-Q",
            "default",
            "--pool=solo",
            "--hostname",
            f"test-{secrets.token_hex(4)}@%h",
            "--without-mingle",
            "--without-gossip",
        ],
        cwd=ROOT,
        env=distributed_db,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + SERVER_START_S
        while time.monotonic() < deadline and api.get("/api/v1/system/health").status_code != 200:
            time.sleep(0.5)
        response = api.get("/api/v1/system/health")
        assert response.status_code == 200, response.json()
    finally:
        stop(worker)


def test_production_settings_pass_check_deploy(tmp_path: Path) -> None:
    env = embedded_env(tmp_path / "var")
    env.update(
        DEBUG="false", ALLOWED_HOSTS="castcore.example.org", SECRET_KEY=secrets.token_urlsafe(50)
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_a_malformed_boolean_stops_start_up(tmp_path: Path) -> None:
    env = embedded_env(tmp_path / "var")
    env["DEBUG"] = "ture"
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "DEBUG='ture' is not a boolean" in result.stderr


def test_distributed_mode_requires_a_secret_key(tmp_path: Path) -> None:
    env = embedded_env(tmp_path / "var")
    env["REDIS_URL"] = "redis://127.0.0.1:6379/0"
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "SECRET_KEY (or SECRET_KEY_FILE) is required" in result.stderr


def test_the_embedded_broker_writes_messages_atomically(tmp_path: Path) -> None:
    env = embedded_env(tmp_path / "var")
    code = "from castcore.celery import app; print(type(app.connection_for_write().transport))"
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "castcore.broker.Transport" in result.stdout


@dataclass
class WebProcesses:
    parent: subprocess.Popen[bytes]
    children: list[Any]  # psutil.Process
    port: int


@pytest.fixture
def web_processes(distributed_db: dict[str, str]) -> Iterator[WebProcesses]:
    """`castcore.serve --processes 2` on a free port, answering."""
    import psutil

    port = free_port()
    argv = [sys.executable, "-m", "castcore.serve", "--processes", "2",
            "-b", "127.0.0.1", "-p", str(port), "castcore.asgi:application"]  # fmt: skip
    parent = subprocess.Popen(
        argv, cwd=ROOT, env=distributed_db, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for_answer(f"http://127.0.0.1:{port}/api/v1/system/health", SERVER_START_S)
        yield WebProcesses(parent, psutil.Process(parent.pid).children(), port)
    finally:
        stop(parent)


def test_several_web_processes_need_the_distributed_mode(tmp_path: Path) -> None:
    env = embedded_env(tmp_path / "var")
    result = subprocess.run(
        [sys.executable, "-m", "castcore.serve", "--processes", "2", "-p", str(free_port()),
         "castcore.asgi:application"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert "needs the distributed mode" in result.stderr


@pytest.mark.slow
def test_web_processes_share_one_port_and_stop_together(web_processes: WebProcesses) -> None:
    parent, children, port = web_processes.parent, web_processes.children, web_processes.port
    assert len(children) == 2
    # Connections one at a time: each goes to whichever process accepts first.
    held = []
    for _ in range(40):
        held.append(socket.create_connection(("127.0.0.1", port)))
        time.sleep(0.02)
    time.sleep(0.5)
    served = [
        sum(1 for c in child.net_connections("tcp") if c.laddr and c.laddr.port == port)
        for child in children
    ]
    assert all(count > 0 for count in served), served
    for sock in held:
        sock.close()
    parent.send_signal(signal.SIGTERM)
    assert parent.wait(timeout=20) == 0
    assert not any(child.is_running() and child.status() != "zombie" for child in children)


def _sessions_opened(database: str) -> int:
    """Connections ever opened to `database` (PostgreSQL counts them as backends end)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT sessions FROM pg_stat_database WHERE datname = %s", [database])
        return int(cursor.fetchone()[0])


@pytest.mark.slow
def test_web_processes_reuse_pooled_database_connections(web_processes: WebProcesses) -> None:
    # Django runs each request in a thread of its own: with per-thread persistent
    # connections, every request opened a PostgreSQL connection of its own.
    database = connection.settings_dict["NAME"]
    url = f"http://127.0.0.1:{web_processes.port}/api/v1/system/health"
    for _ in range(4):  # each process opens its pool (2 connections) on its first request
        get_json(url)
    before = _sessions_opened(database)
    for _ in range(40):
        get_json(url)
    for child in web_processes.children:  # backends report when they end: end them all
        child.send_signal(signal.SIGTERM)
    psutil_wait = time.monotonic() + 20
    while any(c.is_running() and c.status() != "zombie" for c in web_processes.children):
        assert time.monotonic() < psutil_wait, "the web processes did not stop"
        time.sleep(0.2)
    time.sleep(1.0)  # the backends' own exit and their stats flush
    opened = _sessions_opened(database) - before
    assert opened <= 4, f"{opened} connections for 40 requests"


@pytest.mark.slow
def test_web_processes_replace_pooled_connections_the_server_closed(
    web_processes: WebProcesses,
) -> None:
    # A database restart, or an idle timeout, ends the connections the pools keep. The
    # pool checks each connection before a request gets it (castcore/db/health.py).
    url = f"http://127.0.0.1:{web_processes.port}/api/v1/system/health"
    for _ in range(4):  # each process opens its pool on its first request
        assert get_json(url)[1]["checks"]["database"]["ok"]
    server_port = int(connection.settings_dict["PORT"] or 5432)
    ports = [
        c.laddr.port
        for child in web_processes.children
        for c in child.net_connections("tcp")
        if c.raddr and c.raddr.port == server_port
    ]
    assert len(ports) >= 2  # at least one process's pool (requests may all have gone to one)
    with connection.cursor() as cursor:
        # Each call waits (up to 5 s) for its backend to exit: its close is then sent.
        cursor.execute(
            "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
            "WHERE client_port = ANY(%s)",
            [ports],
        )
        ended = [done for (done,) in cursor.fetchall()]
    assert len(ended) == len(ports) and all(ended)
    for _ in range(10):
        assert get_json(url)[1]["checks"]["database"]["ok"]


@pytest.mark.slow
def test_open_event_streams_leave_pooled_connections_to_requests(
    distributed_db: dict[str, str],
) -> None:
    # An SSE stream lasts up to 15 minutes and reads the database every few seconds;
    # it must not keep a connection of the pool between reads.
    from rest_framework_simplejwt.tokens import AccessToken

    from apps.accounts.roles import Role
    from apps.accounts.tests.factories import UserFactory
    from apps.streams.models import ReportKind, StreamReport
    from apps.streams.tests.factories import job_with_outputs

    viewer: Any = UserFactory(role=Role.VIEWER)
    report = StreamReport.objects.create(job=job_with_outputs({}), kind=ReportKind.PREFLIGHT)
    auth = {"Authorization": f"Bearer {AccessToken.for_user(viewer)}"}
    port = free_port()
    env = {**distributed_db, "CASTCORE_DB_POOL_SIZE": "2", "SECURE_SSL_REDIRECT": "false"}
    server = subprocess.Popen(
        [sys.executable, "-m", "castcore.serve", "-b", "127.0.0.1", "-p", str(port),
         "castcore.asgi:application"],
        cwd=ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}/api/v1"
    streams = []
    try:
        wait_for_answer(f"{base}/system/health", SERVER_START_S)
        for _ in range(3):  # more streams than the pool has connections
            url = f"{base}/sse/preflight/{report.pk}"
            request = urllib.request.Request(url, headers=auth)  # noqa: S310 (loopback)
            stream = urllib.request.urlopen(request, timeout=20)  # noqa: S310
            assert stream.readline().startswith(b"retry:")
            streams.append(stream)
        time.sleep(1.0)  # each has read the report at least once
        request = urllib.request.Request(f"{base}/stream-jobs", headers=auth)  # noqa: S310
        started = time.monotonic()
        with urllib.request.urlopen(request, timeout=20) as response:  # noqa: S310
            assert response.status == 200
        # The pool waits 10 s for a free connection before it gives up.
        assert time.monotonic() - started < 5
    finally:
        for stream in streams:
            stream.close()
        stop(server)


@pytest.mark.slow
def test_web_processes_die_with_their_parent(web_processes: WebProcesses) -> None:
    import psutil

    web_processes.parent.kill()  # SIGKILL: no chance to stop them itself
    web_processes.parent.wait()
    _, alive = psutil.wait_procs(web_processes.children, timeout=10)
    assert alive == [], alive


@pytest.mark.slow
def test_a_web_process_that_dies_takes_the_service_down_with_a_failure(
    web_processes: WebProcesses,
) -> None:
    import psutil

    first, second = web_processes.children
    first.kill()  # a crash: the service manager must see a failure and restart it all
    assert web_processes.parent.wait(timeout=30) == 128 + signal.SIGKILL
    _, alive = psutil.wait_procs([second], timeout=10)
    assert alive == []
