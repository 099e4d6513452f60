"""Request bodies against a real `python -m castcore.serve castcore.asgi:application`.

A body over its route's limit is answered 413 in the error envelope, from its
declared length or as soon as it passes the limit; whatever the body, the web
process grows by less than 20 MB; multipart is parsed by the application; real
uploads, chunked ones too, still work.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from PIL import Image
from urllib3 import encode_multipart_formdata

from castcore.tests.test_run_modes import free_port, stop

ROOT = Path(__file__).resolve().parents[2]
MB = 1024 * 1024
GROWTH_LIMIT = 20 * MB
DEFAULT_LIMIT = 512 * 1024  # CASTCORE_REQUEST_BODY_MAX_BYTES's default

pytestmark = pytest.mark.slow


@dataclass
class Served:
    port: int
    pid: int
    token: str
    var_dir: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _server_env(var_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    # SQLite under var_dir, no worker: only the web process is measured.
    env.update(DJANGO_SETTINGS_MODULE="castcore.settings_test", CASTCORE_VAR_DIR=str(var_dir))
    return env


MAKE_OPERATOR = """
from apps.accounts.models import User
from apps.accounts.roles import Role
from apps.accounts.services import api_token_create
user = User.objects.create_user(username="op", password="op-password-1", role=Role.OPERATOR)
print(api_token_create(user=user, name="bodies").raw)
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    var_dir = tmp_path_factory.mktemp("bodies") / "var"
    env = _server_env(var_dir)
    run = runner(env)
    run(["manage.py", "migrate", "--noinput", "-v0"])
    token = run(["manage.py", "shell", "-c", MAKE_OPERATOR]).strip().splitlines()[-1]
    port = free_port()
    log = (var_dir / "server.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "castcore.serve", "-b", "127.0.0.1", "-p", str(port),
         "castcore.asgi:application"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.1)
        yield Served(port=port, pid=server.pid, token=token, var_dir=var_dir)
    finally:
        stop(server)
        log.close()
    text = (var_dir / "server.log").read_text(errors="replace")
    assert "Traceback" not in text, text[-3000:]


def runner(env: dict[str, str]) -> Callable[[list[str]], str]:
    def run(args: list[str]) -> str:
        done = subprocess.run(
            [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    return run


# --- measuring the server ------------------------------------------------------------


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for {pid}")


def written(pid: int) -> int:
    """Bytes the process has passed to write() so far, to files (sockets send() theirs)."""
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("wchar:"):
            return int(line.split()[1])
    raise AssertionError(f"no wchar for {pid}")


def peak_growth(pid: int, action: Callable[[], Any]) -> tuple[int, Any]:
    """(bytes the process's peak RSS rose above its RSS before `action`, what it returned)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # the peak (VmHWM) starts again from now
    before = _status_kb(pid, "VmRSS")
    result = action()
    return (_status_kb(pid, "VmHWM") - before) * 1024, result


# --- a raw HTTP client: any framing, any lie in the headers ----------------------------


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def zeros(total: int, chunk: int = MB) -> Iterator[bytes]:
    block = bytes(chunk)
    sent = 0
    while sent < total:
        piece = block[: min(chunk, total - sent)]
        sent += len(piece)
        yield piece


def chunked(pieces: Iterable[bytes]) -> Iterator[bytes]:
    for piece in pieces:
        yield b"%x\r\n" % len(piece) + piece + b"\r\n"
    yield b"0\r\n\r\n"


def exchange(port: int, head: bytes, body: Iterable[bytes] = ()) -> Answer:
    """Send `head` then `body` (from a thread, as a client that does not wait), read one answer."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    sock.sendall(head)

    def send_body() -> None:
        try:
            for piece in body:
                sock.sendall(piece)
        except OSError:  # the server closed the connection: it has answered
            pass

    sender = threading.Thread(target=send_body, daemon=True)
    sender.start()
    try:
        data = b""
        while b"\r\n\r\n" not in data:
            more = sock.recv(65536)
            assert more, f"the connection closed without an answer: {data!r}"
            data += more
        head_bytes, rest = data.split(b"\r\n\r\n", 1)
        lines = head_bytes.decode("latin-1").split("\r\n")
        headers = {
            k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])
        }
        length = int(headers["content-length"])
        while len(rest) < length:
            more = sock.recv(65536)
            assert more, "the connection closed mid-answer"
            rest += more
        sender.join(timeout=60)
        return Answer(int(lines[0].split()[1]), headers, rest[:length])
    finally:
        sock.close()
        sender.join(timeout=10)


def post_head(path: str, *headers: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def assert_too_large(answer: Answer, limit: int) -> None:
    assert answer.status == 413, answer
    assert answer.headers["content-type"] == "application/json"
    assert answer.json() == {
        "error": {"code": "request.too_large", "params": {"limit_bytes": limit}, "level": "error"}
    }


LOGIN = "/api/v1/auth/login"
UNKNOWN = "/api/v1/no-such-route"
ASSETS = "/api/v1/assets"


def _warm_up(served: Served) -> None:
    """Every route and path below once, small, so first-use costs are not counted."""
    for path in (LOGIN, UNKNOWN, ASSETS):
        exchange(served.port, post_head(path, "Transfer-Encoding: chunked"),
                 chunked(zeros(2 * MB)))  # fmt: skip
        exchange(served.port, post_head(path, "Content-Length: 1000",
                 "Content-Type: application/json"), [bytes(1000)])  # fmt: skip


# --- the limits ------------------------------------------------------------------------


def test_a_declared_length_over_the_limit_is_refused_before_the_body_is_sent(
    served: Served,
) -> None:
    started = time.monotonic()
    # A false large length: nothing of the declared GiB ever comes.
    answer = exchange(served.port, post_head(LOGIN, f"Content-Length: {1024 * MB}"))
    assert_too_large(answer, DEFAULT_LIMIT)
    assert time.monotonic() - started < 5
    assert answer.headers["connection"] == "close"


def test_an_owncast_route_refuses_a_large_body_in_owncasts_shape(served: Served) -> None:
    # The view declares its own shape (request_body_too_large): the server answers with it.
    path = "/owncast/any/api/admin/config/name"
    answer = exchange(served.port, post_head(path, f"Content-Length: {1024 * MB}"))
    assert answer.status == 413 and answer.headers["content-type"] == "application/json"
    assert answer.json() == {
        "success": False, "message": "request.too_large", "params": {"limit_bytes": DEFAULT_LIMIT}
    }  # fmt: skip


def test_a_declared_length_over_the_limit_gets_no_100_continue(served: Served) -> None:
    head = post_head(LOGIN, f"Content-Length: {2 * MB}", "Expect: 100-continue")
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as sock:
        sock.sendall(head)
        data = b""
        while b"}}" not in data:  # the end of the envelope
            more = sock.recv(65536)
            assert more, data
            data += more
        sock.settimeout(1)
        with contextlib.suppress(TimeoutError):
            data += sock.recv(65536)
    assert data.startswith(b"HTTP/1.1 413 "), data
    assert data.endswith(b"}}"), data  # nothing after the answer: no "100 Continue"


@pytest.mark.parametrize(
    ("path", "authenticated", "status", "code"),
    [
        (LOGIN, False, 413, "request.too_large"),
        (UNKNOWN, False, 413, "request.too_large"),
        # Anonymous: the default limit, not the asset route's.
        (ASSETS, False, 413, "request.too_large"),
        # Within the asset limit (500 MB): spooled to disk, then refused by the view.
        (ASSETS, True, 415, "request.unsupported_media_type"),
    ],
)
def test_a_200_mib_chunked_body_grows_the_server_by_less_than_20_mb(
    served: Served, path: str, authenticated: bool, status: int, code: str
) -> None:
    _warm_up(served)
    headers = ["Transfer-Encoding: chunked", "Content-Type: application/octet-stream"]
    if authenticated:
        headers.append(f"Authorization: Bearer {served.token}")
    head = post_head(path, *headers)
    grown, answer = peak_growth(
        served.pid, lambda: exchange(served.port, head, chunked(zeros(200 * MB)))
    )
    assert (answer.status, answer.json()["error"]["code"]) == (status, code), answer
    if status == 413:
        assert_too_large(answer, DEFAULT_LIMIT)
    assert grown < GROWTH_LIMIT, f"the server grew by {grown / MB:.1f} MB"


def test_an_upload_route_takes_bodies_up_to_its_own_limit(served: Served) -> None:
    limit = 50 * MB + 64 * 1024  # RECORDINGS_MAX_UPLOAD_MB's default, and multipart framing
    # A credential is there; whether it is good is the view's to say.
    head = post_head(
        "/api/v1/recordings", "Transfer-Encoding: chunked", "Authorization: Bearer cc_no-such"
    )
    # Over the default limit, within its own: read, and answered by the view.
    answer = exchange(served.port, head, chunked(zeros(2 * MB)))
    assert (answer.status, answer.json()["error"]["code"]) == (401, "auth.token_invalid")
    assert_too_large(exchange(served.port, head, chunked(zeros(limit + MB))), limit)


# --- anonymous uploads get the default limit -------------------------------------------


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_an_anonymous_50_mib_upload_is_refused_at_the_default_limit_and_not_spooled(
    served: Served, framing: str
) -> None:
    _warm_up(served)
    size = 50 * MB
    if framing == "content-length":
        head = post_head(ASSETS, f"Content-Length: {size}", "Content-Type: image/png")
        body: Iterable[bytes] = zeros(size)
    else:
        head = post_head(ASSETS, "Transfer-Encoding: chunked", "Content-Type: image/png")
        body = chunked(zeros(size))
    before = written(served.pid)
    grown, answer = peak_growth(served.pid, lambda: exchange(served.port, head, body))
    assert_too_large(answer, DEFAULT_LIMIT)
    # At most the default limit of a chunked body reached the spool (and a log line).
    assert written(served.pid) - before < 2 * DEFAULT_LIMIT
    assert grown < GROWTH_LIMIT, f"the server grew by {grown / MB:.1f} MB"


def test_a_chunked_anonymous_upload_is_answered_413_once_it_passes_the_default_limit(
    served: Served,
) -> None:
    head = post_head(ASSETS, "Transfer-Encoding: chunked", "Content-Type: image/png")
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as sock:
        # Just past the limit, and then nothing: the body has not ended.
        sock.sendall(head + b"".join(chunked(zeros(DEFAULT_LIMIT + 64 * 1024, 64 * 1024)))[:-5])
        data = b""
        while b"}}" not in data:  # the end of the envelope
            more = sock.recv(65536)
            assert more, data
            data += more
    assert data.startswith(b"HTTP/1.1 413 "), data
    assert b'"limit_bytes": %d' % DEFAULT_LIMIT in data, data


def _spool_files(pid: int) -> list[str]:
    """The deleted files the process holds open: spooled bodies (TemporaryFile)."""
    found = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.endswith(" (deleted)"):
                found.append(target.removesuffix(" (deleted)"))
    return found


def test_an_accepted_body_is_spooled_under_the_apps_temp_folder(served: Served) -> None:
    head = post_head(ASSETS, "Transfer-Encoding: chunked", f"Authorization: Bearer {served.token}")
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as sock:
        # 2 MiB of a body that has not ended: the server holds it in its spool.
        sock.sendall(head + b"".join(chunked(zeros(2 * MB)))[:-5])
        deadline = time.monotonic() + 20
        while not (spooled := _spool_files(served.pid)):
            assert time.monotonic() < deadline, "no spooled body"
            time.sleep(0.05)
    assert [Path(name).parent for name in spooled] == [served.var_dir / "tmp"]


def test_a_declared_length_under_the_body_sent_leaves_the_rest_unread(served: Served) -> None:
    _warm_up(served)
    # A false small length: 1000 bytes declared, 200 MiB sent.
    head = post_head(LOGIN, "Content-Length: 1000", "Content-Type: application/json")
    grown, answer = peak_growth(served.pid, lambda: exchange(served.port, head, zeros(200 * MB)))
    # The request is its 1000 declared bytes (zeros: not JSON); the rest is no request.
    assert (answer.status, answer.json()["error"]["code"]) == (400, "request.malformed")
    assert grown < GROWTH_LIMIT, f"the server grew by {grown / MB:.1f} MB"


def test_a_50_mib_multipart_login_is_refused_and_grows_the_server_by_less_than_20_mb(
    served: Served,
) -> None:
    _warm_up(served)
    fields: dict[str, Any] = {"username": "op", "password": ("big.bin", bytes(50 * MB))}
    body, content_type = encode_multipart_formdata(fields)
    head = post_head(LOGIN, f"Content-Length: {len(body)}", f"Content-Type: {content_type}")
    grown, answer = peak_growth(served.pid, lambda: exchange(served.port, head, [body]))
    assert_too_large(answer, DEFAULT_LIMIT)
    assert grown < GROWTH_LIMIT, f"the server grew by {grown / MB:.1f} MB"


def test_json_at_the_default_limit_grows_the_server_by_less_than_20_mb(served: Served) -> None:
    _warm_up(served)
    # The costliest JSON per byte: every 3 bytes one dict for the parser to build.
    body = b"[" + b"{}," * (DEFAULT_LIMIT // 3 - 1) + b"{}]"
    assert len(body) <= DEFAULT_LIMIT
    head = post_head(LOGIN, f"Content-Length: {len(body)}", "Content-Type: application/json")
    grown, answer = peak_growth(served.pid, lambda: exchange(served.port, head, [body]))
    assert answer.status == 400, answer
    assert grown < GROWTH_LIMIT, f"the server grew by {grown / MB:.1f} MB"


# --- multipart is the application's ----------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "body", "code"),
    [
        ("multipart/form-data", b"username=op", "request.malformed"),  # no boundary
        ("multipart/form-data; boundary=xyz", b"--xyz--\r\n", "validation.required"),  # no parts
    ],
)
def test_a_multipart_body_without_boundary_or_parts_gets_the_error_envelope(
    served: Served, content_type: str, body: bytes, code: str
) -> None:
    head = post_head(LOGIN, f"Content-Length: {len(body)}", f"Content-Type: {content_type}")
    answer = exchange(served.port, head, [body])
    assert answer.status == 400
    assert answer.headers["content-type"] == "application/json"
    assert answer.json()["error"]["code"] == code


# --- real uploads still work -----------------------------------------------------------


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 32), "red").save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_an_asset_upload_is_stored(served: Served, framing: str) -> None:
    body, content_type = encode_multipart_formdata(
        {"kind": "logo", "name": f"logo {framing}", "file": ("logo.png", _png())}
    )
    data: Any = body if framing == "content-length" else iter([body[:1000], body[1000:]])
    response = requests.post(
        served.url + ASSETS,
        data=data,
        headers={"Authorization": f"Bearer {served.token}", "Content-Type": content_type},
        timeout=60,
    )
    assert response.status_code == 201, response.text
    assert (response.json()["mime"], response.json()["width"]) == ("image/png", 64)
    assert response.json()["name"] == f"logo {framing}"


def test_a_chunked_asciicast_upload_is_stored(served: Served) -> None:
    cast = (ROOT / "apps/recordings/tests/data/real-v2.cast").read_bytes()
    body, content_type = encode_multipart_formdata({"file": ("demo.cast", cast)})
    install_id = str(uuid.uuid4())
    response = requests.post(
        served.url + "/api/v1/recordings",
        data=iter([body[:500], body[500:]]),  # no length: Transfer-Encoding: chunked
        headers={
            "Authorization": "Basic " + base64.b64encode(f"cli:{install_id}".encode()).decode(),
            "Content-Type": content_type,
            "Accept": "application/json",
        },
        timeout=60,
    )
    assert response.status_code == 201, response.text
    assert "/r/" in response.json()["url"]
