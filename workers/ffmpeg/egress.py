"""The HTTP proxy every ffmpeg and ffprobe of CastCore reaches http(s) inputs through.

The address policy (addresses.py) is checked when a job is saved and started,
but ffmpeg then follows what the remote server tells it: an HTTP redirect to
any host, an HLS playlist whose segments (or variant playlists) live on any
host, a name that resolves to another address by the time ffmpeg connects.
Each of those could reach a cloud metadata service with the worker's network
position. So http, https and hls inputs get `-http_proxy` pointing here, and
every connection ffmpeg makes for them, redirects and segments included, is
checked against the policy at the moment it is made, then made to the very
address that was checked (no second lookup).

- `CONNECT host:port` (https, through ffmpeg's httpproxy protocol): checked,
  then a byte tunnel; TLS stays end to end between ffmpeg and the server.
- `GET http://host/path` (plain http): checked, rewritten to origin form and
  sent with `Connection: close`, one request per connection (ffmpeg opens a
  new one for the next request without a word, since the response says close).

A refused target gets `403` with the reason "Forbidden by CastCore: address not
allowed", which ffmpeg prints and logs.py turns into a hint. URLs are never
logged here (a query string may hold a token): only the refused host.

One proxy per process, on 127.0.0.1 and a port the kernel picks, served by a
daemon thread with its own event loop (`proxy_url()` starts it on first use,
and again in a forked child). ffmpeg and ffprobe start without the proxy
variables of the environment (`child_env`): with `no_proxy` set, ffmpeg would
connect directly to the hosts it names.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import threading
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

from workers.ffmpeg.addresses import DEFAULT_POLICY, AddressPolicy, resolve_checked

logger = logging.getLogger(__name__)

HEAD_LIMIT = 64 * 1024  # a request head longer than this is refused
HEAD_TIMEOUT_S = 10.0  # for ffmpeg to send its request head
RESOLVE_TIMEOUT_S = 10.0  # for a name lookup
CONNECT_TIMEOUT_S = 10.0  # for the server to accept the connection
CLOSE_TIMEOUT_S = 2.0  # for a closed connection to flush; then it is cut
CHUNK = 64 * 1024
REFUSED_REASON = "Forbidden by CastCore: address not allowed"
# Sent with a refusal, for HTTP clients that show the status but not the reason (botocore).
REFUSED_HEADER = "X-CastCore-Refused"
# Lookups block a thread each: a playlist of slow names must not hold up every job's.
_LOOKUPS = concurrent.futures.ThreadPoolExecutor(max_workers=16, thread_name_prefix="egress-dns")
# With these, ffmpeg would go around -http_proxy: it connects directly to every host
# `no_proxy` names (`*`: all of them). Its children never get them (child_env).
_PROXY_VARIABLES = frozenset(
    {"no_proxy", "http_proxy", "https_proxy", "all_proxy"}
    | {"NO_PROXY", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"}
)
# Headers meant for the proxy, or that this proxy sets itself.
_DROPPED_HEADERS = frozenset(
    {"connection", "proxy-connection", "proxy-authorization", "keep-alive"}
)


class _Refusal(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


# The address policy each connection is checked against; the Django side ties it to
# the settings (castcore.addresses, set by apps.streams.apps), as policy.py is.
_address_policy: Callable[[], AddressPolicy] = lambda: DEFAULT_POLICY  # noqa: E731


def use_address_policy(policy: Callable[[], AddressPolicy]) -> None:
    """Check every connection against `policy()`, read when the connection is made."""
    global _address_policy
    _address_policy = policy


def _resolve(host: str, port: int) -> list[tuple[str, int]]:
    return resolve_checked(host, port, policy=_address_policy())


class EgressProxy:
    """A forward proxy that only connects where the address policy allows."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._server: asyncio.base_events.Server | None = None
        self.port = 0
        thread = threading.Thread(target=self._run, name="ffmpeg-egress", daemon=True)
        thread.start()
        if not self._ready.wait(10) or not self.port:
            raise RuntimeError("the egress proxy did not start")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        """Stop listening and end the proxy's thread (connections in progress are dropped)."""

        async def shut() -> None:
            if self._server is not None:
                self._server.close()

        asyncio.run_coroutine_threadsafe(shut(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)

    # ----------------------------------------------------------- on the loop

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._server = self._loop.run_until_complete(
                asyncio.start_server(self._serve, "127.0.0.1", 0, limit=HEAD_LIMIT)
            )
            self.port = self._server.sockets[0].getsockname()[1]
        finally:
            self._ready.set()
        self._loop.run_forever()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream: asyncio.StreamWriter | None = None
        try:
            try:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HEAD_TIMEOUT_S)
            except asyncio.LimitOverrunError:
                await _answer(writer, 431, "Request Header Fields Too Large")
                return
            except (asyncio.IncompleteReadError, TimeoutError):
                return
            try:
                method, host, port, forward = _parse(head)
                addresses = await self._checked(host, port)
                up_reader, upstream = await _connect(addresses)
            except _Refusal as refusal:
                await _answer(writer, refusal.status, refusal.reason)
                return
            if method == "CONNECT":
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
                await writer.drain()
            else:
                upstream.write(forward)
            await _relay(reader, writer, up_reader, upstream, both_ways=method == "CONNECT")
        except (ConnectionError, OSError):
            pass
        finally:
            await asyncio.gather(*(_close(s) for s in (upstream, writer) if s is not None))

    async def _checked(self, host: str, port: int) -> list[tuple[str, int]]:
        lookup = self._loop.run_in_executor(_LOOKUPS, _resolve, host, port)
        try:
            return await asyncio.wait_for(lookup, RESOLVE_TIMEOUT_S)
        except PermissionError as exc:
            logger.warning("ffmpeg was refused a connection to %s (%s)", host, exc)
            raise _Refusal(403, REFUSED_REASON) from None
        except (OSError, TimeoutError, UnicodeError, ValueError):
            raise _Refusal(502, "Bad Gateway: the name does not resolve") from None


def _parse(head: bytes) -> tuple[str, str, int, bytes]:
    """(method, host, port, the request to send upstream) from a proxy request head."""
    try:
        text = head.decode("latin-1")
        request_line, *header_lines = text.split("\r\n")
        method, rest = request_line.split(" ", 1)
        target, version = rest.rsplit(" ", 1)
    except ValueError:
        raise _Refusal(400, "Bad Request") from None
    if not version.startswith("HTTP/1."):
        raise _Refusal(400, "Bad Request")
    if method == "CONNECT":
        host, _, port_text = target.rpartition(":")
        host = host.strip("[]")
        if not host or not _is_port(port_text):
            raise _Refusal(400, "Bad Request")
        return method, host, int(port_text), b""
    if method not in ("GET", "HEAD"):
        raise _Refusal(405, "Method Not Allowed")  # inputs are only read
    url = urlsplit(target)
    try:
        port = url.port or 80
    except ValueError:  # out of range, or not a number
        raise _Refusal(400, "Bad Request") from None
    if url.scheme != "http" or not url.hostname:
        raise _Refusal(400, "Bad Request")
    headers = []
    for line in header_lines:
        if not line:
            continue
        name = line.split(":", 1)[0].strip().lower()
        if name in ("content-length", "transfer-encoding"):
            raise _Refusal(400, "Bad Request")  # a GET with a body is not ffmpeg reading
        if name not in _DROPPED_HEADERS:
            headers.append(line)
    path = url.path or "/"
    origin_form = f"{path}?{url.query}" if url.query else path
    forward = "\r\n".join(
        [f"{method} {origin_form} {version}", *headers, "Connection: close", "", ""]
    )
    return method, url.hostname, port, forward.encode("latin-1")


def _is_port(text: str) -> bool:
    return text.isascii() and text.isdigit() and 0 < int(text) < 65536


async def _connect(
    addresses: list[tuple[str, int]],
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    for host, port in addresses:
        with contextlib.suppress(OSError, TimeoutError, OverflowError, ValueError):
            return await asyncio.wait_for(asyncio.open_connection(host, port), CONNECT_TIMEOUT_S)
    raise _Refusal(502, "Bad Gateway: the server could not be reached")


async def _answer(writer: asyncio.StreamWriter, status: int, reason: str) -> None:
    refused = f"{REFUSED_HEADER}: address\r\n" if reason == REFUSED_REASON else ""
    head = f"HTTP/1.1 {status} {reason}\r\n{refused}Content-Length: 0\r\nConnection: close\r\n\r\n"
    writer.write(head.encode())
    with contextlib.suppress(ConnectionError):
        await writer.drain()


async def _close(writer: asyncio.StreamWriter) -> None:
    """Close, letting buffered bytes go for a moment; a peer that reads nothing is cut."""
    writer.close()
    try:
        await asyncio.wait_for(writer.wait_closed(), CLOSE_TIMEOUT_S)
    except (TimeoutError, ConnectionError, OSError):
        writer.transport.abort()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, OSError):
        while chunk := await reader.read(CHUNK):
            writer.write(chunk)
            await writer.drain()
    with contextlib.suppress(ConnectionError, OSError):
        if writer.can_write_eof():
            writer.write_eof()


async def _relay(
    client_reader: asyncio.StreamReader,
    client_writer: asyncio.StreamWriter,
    up_reader: asyncio.StreamReader,
    up_writer: asyncio.StreamWriter,
    *,
    both_ways: bool,
) -> None:
    """Copy the server's answer to ffmpeg; in a tunnel, ffmpeg's bytes to the server too.

    Either side's end ends the exchange. Outside a tunnel ffmpeg has nothing more
    to send: whatever it sends after its request head ends it (one request per
    connection). ffmpeg never half-closes a tunnel, so its end is not waited out
    for a server that might never answer.
    """
    down = asyncio.ensure_future(_pipe(up_reader, client_writer))
    up = asyncio.ensure_future(
        _pipe(client_reader, up_writer) if both_ways else client_reader.read(1)
    )
    await asyncio.wait({down, up}, return_when=asyncio.FIRST_COMPLETED)
    for task in (down, up):
        if not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task


# The schemes whose connections go through the proxy.
PROXIED_SCHEMES = frozenset({"http", "https"})
# What the command preview shows in place of a worker's own proxy address.
PREVIEW_PROXY_URL = "http://127.0.0.1:<worker-egress-proxy>"


def is_proxied(url: str) -> bool:
    return url.split(":", 1)[0].lower() in PROXIED_SCHEMES


def tool_log_level(url: str) -> str:
    """The -v for an ffprobe or one-shot ffmpeg reading `url`: errors only, unless proxied.

    ffmpeg logs the proxy's answer to a refused connection (REFUSED_REASON) as a
    warning and then fails with a bare "Server returned 403", so through the proxy
    the warnings are kept for the caller to find the reason in.
    """
    return "warning" if is_proxied(url) else "error"


def input_options(url: str, protocols: Sequence[str], proxy: str | None = None) -> list[str]:
    """The options that go before `-i url` to open it with `protocols` only.

    An http(s) URL also gets `-http_proxy` (this process's proxy unless `proxy`
    names another) and ffmpeg's httpproxy protocol, which https through the proxy
    (CONNECT) needs, whoever chose the list (an S3 location has its own).
    """
    if not is_proxied(url):
        return ["-protocol_whitelist", ",".join(protocols)]
    whitelist = [*protocols, *(() if "httpproxy" in protocols else ("httpproxy",))]
    return ["-protocol_whitelist", ",".join(whitelist), "-http_proxy", proxy or proxy_url()]


def child_env() -> dict[str, str]:
    """The environment for an ffmpeg or ffprobe: this process's, without proxy variables."""
    return {name: value for name, value in os.environ.items() if name not in _PROXY_VARIABLES}


_proxy: EgressProxy | None = None
_proxy_lock = threading.Lock()


def _forget_in_child() -> None:
    # A forked child has none of the parent's threads: not its proxy, nor perhaps the
    # lock's holder. It starts its own proxy, under a lock of its own.
    global _proxy, _proxy_lock
    _proxy, _proxy_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_in_child)


def proxy_url() -> str:
    """The URL of this process's egress proxy (started on first use)."""
    global _proxy
    with _proxy_lock:
        if _proxy is None:
            _proxy = EgressProxy()
        return _proxy.url


__all__ = [
    "PREVIEW_PROXY_URL", "PROXIED_SCHEMES", "REFUSED_HEADER", "REFUSED_REASON", "EgressProxy",
    "child_env", "input_options", "is_proxied", "proxy_url", "use_address_policy",
]  # fmt: skip
