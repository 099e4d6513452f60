"""POST to a URL a user chose, under the address policy, with limits on everything.

The address policy (workers/ffmpeg/addresses.py, settings in castcore/addresses.py)
is applied where the connection is made: the host is resolved once, every address
it resolves to is checked, and the socket connects to a checked address, never to
the name again (a second lookup could answer differently: DNS rebinding). A
redirect is a new connection and goes through the same check, so no redirect is
followed to a refused address. Timeouts bound the connect and each read; the
response is read up to a cap and the rest is left unread.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import time
import urllib.parse
from dataclasses import dataclass

from workers.ffmpeg.addresses import AddressPolicy, refusal, resolve_checked

REDIRECTS = (301, 302, 303, 307, 308)
EXCERPT_CHARS = 1000


@dataclass(frozen=True)
class Limits:
    connect_timeout: float
    read_timeout: float
    max_response_bytes: int
    max_redirects: int


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
    return None


def _connect(host: str, port: int, policy: AddressPolicy, limits: Limits) -> socket.socket:
    try:
        addresses = resolve_checked(host, port, policy=policy)
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
            sock = socket.create_connection((address, port), timeout=limits.connect_timeout)
        except OSError as exc:
            last = exc
            continue
        sock.settimeout(limits.read_timeout)
        return sock
    if isinstance(last, TimeoutError):
        raise _Failure("webhook.timeout", f"connect to {host}:{port} timed out")
    raise _Failure("webhook.connect_failed", f"{host}:{port}: {last}")


def _post_once(
    url: str, body: bytes, headers: dict[str, str], policy: AddressPolicy, limits: Limits
) -> tuple[int, bytes, str | None]:
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    https = parts.scheme == "https"
    port = parts.port or (443 if https else 80)
    sock = _connect(host, port, policy, limits)
    try:
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
        return response.status, data, response.getheader("Location")
    finally:
        sock.close()


def post_checked(
    url: str, body: bytes, headers: dict[str, str], *, policy: AddressPolicy, limits: Limits
) -> PostResult:
    """POST `body` to `url`, following redirects (the same POST) while each target is allowed."""
    started = time.monotonic()
    result = PostResult()
    try:
        for _hop in range(limits.max_redirects + 1):
            problem = url_problem(url)
            if problem is not None:
                raise _Failure("webhook.url_invalid", f"{url_for_log(url)}: {problem}")
            result.final_url = url
            status, data, location = _post_once(url, body, headers, policy, limits)
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
    result.duration_ms = int((time.monotonic() - started) * 1000)
    return result


def url_for_log(url: str) -> str:
    """Scheme, host and port only: a path or query may carry a token of the receiver's."""
    try:
        parts = urllib.parse.urlsplit(url)
        return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}/…"
    except ValueError:
        return "(invalid URL)"
