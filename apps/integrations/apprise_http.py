"""apprise's HTTP under the address policy: checked where it connects, on every redirect.

apprise's plugins call `requests.post(...)` themselves, each on a session of its own,
and requests follows redirects by itself: nothing CastCore passes reaches them. So the
check sits where urllib3 opens every connection (`urllib3.util.connection.
create_connection`, which its HTTP and HTTPS connections call), wrapped once when the app
loads and active only inside `checked_connections()`: in the thread that sends and in
the threads apprise hands a send to (it runs them in a copy of the caller's context).
There the name is resolved once, every address checked (workers/ffmpeg/addresses.py, as
webhooks and ffmpeg's inputs are) and the socket connected to a checked address, never
to the name again. A redirect to another host is a new connection and checked the same
way, so none is followed to a refused address. Outside the scope nothing changes.

A proxy from the environment (HTTPS_PROXY…) is refused in the scope: through it the
proxy would reach the target, and the check would only ever see the proxy.

Answers are read up to a cap in the scope, as a webhook's are: requests reads a whole
body into memory before apprise sees it, so its adapter is wrapped where it sends (not the
socket: under TLS the bytes are read by the ssl module, past any Python wrapper). The
body is read in small pieces, decoded, up to `max_response_bytes`; the rest is left unread
and the connection closed. A plugin that asks to stream the answer itself is not capped
(none of the ones CastCore's targets use does).
"""

from __future__ import annotations

import contextlib
import urllib.parse
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from workers.ffmpeg.addresses import AddressPolicy, refusal, resolve_checked


@dataclass
class CheckedScope:
    """The policy connections are checked against, and what it refused (host, address, why)."""

    policy: AddressPolicy
    max_response_bytes: int
    refused: list[str] = field(default_factory=list)
    #: URLs (scheme, host and port only) whose answer was cut at the cap.
    cut: list[str] = field(default_factory=list)


class AddressRefused(OSError):
    """A connection the address policy refused (urllib3 reports it as a failed connect)."""


_scope: ContextVar[CheckedScope | None] = ContextVar("apprise_checked_scope", default=None)
_installed = False


@contextlib.contextmanager
def checked_connections(
    policy: AddressPolicy, *, max_response_bytes: int
) -> Iterator[CheckedScope]:
    """Within the block, every HTTP connection of this context obeys `policy`, and no
    answer is read past `max_response_bytes`."""
    scope = CheckedScope(policy, max_response_bytes)
    token = _scope.set(scope)
    try:
        yield scope
    finally:
        _scope.reset(token)


def _checking(original: Callable[..., Any]) -> Callable[..., Any]:
    def create_connection(address: tuple[str, int], *args: Any, **kwargs: Any) -> Any:
        scope = _scope.get()
        if scope is None:
            return original(address, *args, **kwargs)
        host, port = address
        try:
            checked = resolve_checked(host, port, policy=scope.policy)
        except PermissionError as refused:
            where = str(refused)
            reason = refusal(where, scope.policy) or "link_local"  # a metadata host name
            scope.refused.append(f"{host} is or resolves to {where} ({reason})")
            raise AddressRefused(f"address not allowed: {where} ({reason})") from None
        last: OSError = OSError(f"{host} resolves to no address")
        for checked_address, _port in checked:
            try:
                return original((checked_address, port), *args, **kwargs)
            except OSError as exc:
                last = exc
        raise last

    return create_connection


def _no_proxy(original: Callable[..., Any]) -> Callable[..., Any]:
    def proxy_manager_for(self: Any, proxy: str, **kwargs: Any) -> Any:
        if _scope.get() is not None:
            import requests

            raise requests.exceptions.ProxyError("a proxy would bypass the address policy")
        return original(self, proxy, **kwargs)

    return proxy_manager_for


# Decoded a piece at a time: a compressed answer grows by at most this much per read.
_READ_CHUNK = 8192


def _capped(original: Callable[..., Any]) -> Callable[..., Any]:
    def send(self: Any, request: Any, stream: bool = False, **kwargs: Any) -> Any:
        scope = _scope.get()
        if scope is None or stream:
            return original(self, request, stream=stream, **kwargs)
        response = original(self, request, stream=True, **kwargs)
        body = bytearray()
        for chunk in response.iter_content(_READ_CHUNK):
            body += chunk
            if len(body) > scope.max_response_bytes:
                parts = urllib.parse.urlsplit(request.url)
                scope.cut.append(f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}/")
                response.close()  # the rest stays unread; the connection is not reused
                break
        # What requests would have read itself when not streaming (Response.content).
        response._content = bytes(body[: scope.max_response_bytes])
        response._content_consumed = True
        return response

    return send


def install() -> None:
    """Wrap urllib3's connect and requests' proxy managers once (IntegrationsConfig.ready)."""
    global _installed
    if _installed:
        return
    import requests.adapters
    import urllib3.util.connection

    urllib3.util.connection.create_connection = _checking(urllib3.util.connection.create_connection)
    adapter = requests.adapters.HTTPAdapter
    adapter.proxy_manager_for = _no_proxy(adapter.proxy_manager_for)  # type: ignore[method-assign]
    adapter.send = _capped(adapter.send)  # type: ignore[method-assign]
    _installed = True
