"""POST to a URL a user chose, under the address policy, with limits on everything.

The address policy (workers/ffmpeg/addresses.py, settings in castcore/addresses.py)
is applied where the connection is made: the host is resolved once, every address
it resolves to is checked, and the socket connects to a checked address, never to
the name again (a second lookup could answer differently: DNS rebinding). A
redirect is a new connection and goes through the same check, so no redirect is
followed to a refused address. Timeouts bound the connect and each read, and one
overall deadline the whole attempt (lookups, connects, TLS, redirects, the answer):
a receiver that drips its answer a byte at a time, each within the read timeout,
is cut off at the deadline, so an attempt never outlives the claim its caller holds.
The response is read up to a cap and the rest is left unread.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import http.client
import socket
import ssl
import threading
import time
import urllib.parse
from dataclasses import dataclass

from workers.ffmpeg.addresses import AddressPolicy, host_problem, refusal, resolve_checked

REDIRECTS = (301, 302, 303, 307, 308)
EXCERPT_CHARS = 1000
# getaddrinfo cannot be interrupted: lookups run here, and an attempt waits for its own
# only until its deadline (a lookup that hangs keeps one thread until the resolver gives up).
_LOOKUPS = concurrent.futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="webhook-dns")


@dataclass(frozen=True)
class Limits:
    connect_timeout: float
    read_timeout: float
    max_response_bytes: int
    max_redirects: int
    #: The whole attempt, redirects included: past it the connection is cut.
    total_timeout: float = 30.0


@dataclass
class PostResult:
    """What came back: a status (any HTTP answer) or an error code (no answer)."""

    status_code: int | None = None
    excerpt: str = ""
    duration_ms: int = 0
    error_code: str = ""
    error_detail: str = ""
    final_url: str = ""

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def refused(self) -> bool:
        """The policy refused the address: trying again would reach nothing either."""
        return self.error_code in ("webhook.address_not_allowed", "webhook.url_invalid")


class _Failure(Exception):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def url_problem(url: str) -> str | None:
    """Why `url` cannot be a webhook URL (None if it can): http(s), a host, no credentials."""
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError for a bad port)
    except ValueError:
        return "not a URL"
    if parts.scheme not in ("http", "https"):
        return "scheme must be http or https"
    if not parts.hostname:
        return "no host"
    if parts.username or parts.password:
        return "credentials in the URL are not allowed (sign with the secret instead)"
    return host_problem(parts.hostname)


class _Deadline:
    """The end of an attempt, and the watchdog that cuts its connection when it comes.

    Socket timeouts bound each wait, not their sum; shutting the connection down from a
    timer thread wakes whatever read or write is blocked on it, in http.client or in a
    TLS handshake. The watchdog holds a duplicate of the socket's descriptor: the same
    connection whatever wraps it, and never another one that reuses a closed number.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds
        self.expired = threading.Event()
        self._lock = threading.Lock()
        self._watched: socket.socket | None = None
        self._timer: threading.Timer | None = None

    def left(self) -> float:
        left = self.at - time.monotonic()
        if left <= 0:
            self.expired.set()
        self.check()
        return left

    def check(self) -> None:
        """Raise the timeout once the deadline passed (whatever the cut broke)."""
        if self.expired.is_set():
            raise _Failure("webhook.timeout", f"no complete answer within {self.seconds:g} s")

    def watch(self, sock: socket.socket) -> None:
        """Cut this connection (each hop's in turn) at the deadline."""
        left = self.left()
        with self._lock:
            self._forget()
            self._watched = sock.dup()
        if self._timer is None:
            self._timer = threading.Timer(left, self._cut)
            self._timer.daemon = True
            self._timer.start()

    def _cut(self) -> None:
        with self._lock:
            self.expired.set()
            if self._watched is not None:
                with contextlib.suppress(OSError):  # already closed by the other end
                    self._watched.shutdown(socket.SHUT_RDWR)

    def _forget(self) -> None:
        if self._watched is not None:
            self._watched.close()
            self._watched = None

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        with self._lock:
            self._forget()


def _resolve(
    host: str, port: int, policy: AddressPolicy, deadline: _Deadline
) -> list[tuple[str, int]]:
    lookup = _LOOKUPS.submit(resolve_checked, host, port, policy=policy)
    try:
        return lookup.result(timeout=deadline.left())
    except concurrent.futures.TimeoutError:
        raise _Failure("webhook.timeout", f"looking up {host} took too long") from None


def _connect(
    host: str, port: int, policy: AddressPolicy, limits: Limits, deadline: _Deadline
) -> socket.socket:
    try:
        addresses = _resolve(host, port, policy, deadline)
    except PermissionError as refused:
        address = str(refused)
        reason = refusal(address, policy) or "link_local"  # a metadata host name
        raise _Failure(
            "webhook.address_not_allowed", f"{host} is or resolves to {address} ({reason})"
        ) from None
    except OSError as exc:
        raise _Failure("webhook.dns_failed", f"{host}: {exc}") from None
    last: OSError | None = None
    for address, _port in addresses:
        try:
            timeout = min(limits.connect_timeout, deadline.left())
            sock = socket.create_connection((address, port), timeout=timeout)
        except OSError as exc:
            last = exc
            continue
        sock.settimeout(limits.read_timeout)
        return sock
    if isinstance(last, TimeoutError):
        raise _Failure("webhook.timeout", f"connect to {host}:{port} timed out")
    raise _Failure("webhook.connect_failed", f"{host}:{port}: {last}")


def _post_once(
    url: str,
    body: bytes,
    headers: dict[str, str],
    policy: AddressPolicy,
    limits: Limits,
    deadline: _Deadline,
) -> tuple[int, bytes, str | None]:
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    https = parts.scheme == "https"
    port = parts.port or (443 if https else 80)
    sock = _connect(host, port, policy, limits, deadline)
    try:
        deadline.watch(sock)
        if https:
            context = ssl.create_default_context()
            sock = context.wrap_socket(sock, server_hostname=host)
        conn = http.client.HTTPConnection(host, port, timeout=limits.read_timeout)
        conn.sock = sock  # already connected, to the checked address
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read(limits.max_response_bytes)
        deadline.check()  # cut short: what was read is not the answer
        return response.status, data, response.getheader("Location")
    except (OSError, http.client.HTTPException):
        deadline.check()  # the watchdog's cut is what broke it
        raise
    finally:
        sock.close()


def post_checked(
    url: str, body: bytes, headers: dict[str, str], *, policy: AddressPolicy, limits: Limits
) -> PostResult:
    """POST `body` to `url`, following redirects (the same POST) while each target is allowed."""
    started = time.monotonic()
    result = PostResult()
    deadline = _Deadline(limits.total_timeout)
    try:
        for _hop in range(limits.max_redirects + 1):
            problem = url_problem(url)
            if problem is not None:
                raise _Failure("webhook.url_invalid", f"{url_for_log(url)}: {problem}")
            result.final_url = url
            status, data, location = _post_once(url, body, headers, policy, limits, deadline)
            if status in REDIRECTS and location:
                url = urllib.parse.urljoin(url, location)
                continue
            result.status_code = status
            result.excerpt = data.decode("utf-8", "replace")[:EXCERPT_CHARS]
            break
        else:
            raise _Failure("webhook.too_many_redirects", f"more than {limits.max_redirects}")
    except _Failure as failure:
        result.error_code, result.error_detail = failure.code, failure.detail
    except TimeoutError:
        result.error_code, result.error_detail = "webhook.timeout", "no answer in time"
    except ssl.SSLError as exc:
        result.error_code, result.error_detail = "webhook.tls_failed", str(exc)[:300]
    except (OSError, http.client.HTTPException) as exc:
        result.error_code = "webhook.connect_failed"
        result.error_detail = f"{type(exc).__name__}: {exc}"[:300]
    finally:
        deadline.stop()
    result.duration_ms = int((time.monotonic() - started) * 1000)
    return result


def url_for_log(url: str) -> str:
    """Scheme, host and port only: a path or query may carry a token of the receiver's."""
    try:
        parts = urllib.parse.urlsplit(url)
        return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}/…"
    except ValueError:
        return "(invalid URL)"
