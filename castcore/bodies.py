"""How large a request body may be, route by route, and the answer to one that is larger.

A body over its route's limit is refused with 413 and the error envelope,
`{"error": {"code": "request.too_large", "params": {"limit_bytes": N}, ...}}`,
before any view runs (a compatible surface's view may declare its own shape:
`request_body_too_large`, see too_large_body). Most routes take small JSON bodies
and share one default, REQUEST_BODY_MAX_BYTES (CASTCORE_REQUEST_BODY_MAX_BYTES,
512 KiB). A view that takes uploads declares its own limit as a class attribute,
`request_body_limit = <bytes>`, from its app's own settings (multipart framing
included); the limit covers every method of that view.

A route's own limit is for requests that carry credentials: an `Authorization`
header or Django's session cookie (SESSION_COOKIE_NAME). A request with neither
is anonymous, and an upload route answers it 401 anyway: it gets the default
limit, so it is refused from its declared length or as soon as it passes that,
instead of being spooled up to the route's hundreds of megabytes first. Whether
the credential is good is the view's to say: that needs the database, and the
limit must be known before the body arrives.

Two layers apply it, both through `limit_for` and `too_large_body`:
- `python -m castcore.serve` (castcore/serve.py), in the HTTP protocol: a body is
  refused from its declared length, or as soon as it passes the limit, and what
  it accepts is spooled to disk and handed to the application a chunk at a time.
  Plain daphne reads every body whole into memory first.
- BodyLimitMiddleware (castcore/asgi.py), for any ASGI server: it refuses from
  the declared length and stops the application reading at the limit.

Bodies the server accepts, Django's own copy of a large one (castcore.asgi's
SpoolingASGIHandler) and the files it parses out of multipart bodies are spooled
under FILE_UPLOAD_TEMP_DIR (CASTCORE_UPLOAD_TEMP_DIR, VAR_DIR/tmp), the app's own
disk, not the system's /tmp, which is RAM where it is a tmpfs.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from django.apps import apps
from django.conf import settings
from django.http.cookie import parse_cookie
from django.urls import Resolver404, resolve

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
AsgiApp = Callable[..., Awaitable[None]]

TOO_LARGE_CODE = "request.too_large"


def default_limit() -> int:
    return int(settings.REQUEST_BODY_MAX_BYTES)


def limit_for(path: str, headers: Iterable[tuple[bytes, bytes]]) -> int:
    """The largest body, in bytes, that a request to `path` with these headers may send."""
    limit = route_limit(path)
    if limit > default_limit() and not carries_credentials(headers):
        return default_limit()
    return limit


def carries_credentials(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    """Whether a request names a credential: an Authorization header or a session cookie.

    Only that one is there: the view checks it (asciinema's install-id Basic auth is an
    Authorization header too).
    """
    session_cookie = settings.SESSION_COOKIE_NAME
    for name, value in headers:
        name = name.lower()
        if name == b"authorization" and value.strip():
            return True
        if name == b"cookie" and parse_cookie(value.decode("latin-1")).get(session_cookie):
            return True
    return False


def _route_declares(path: str, name: str) -> Any:
    """What the view serving `path` declares as `name` (on its class or its function)."""
    if not apps.ready:  # castcore.serve serving an application that is not CastCore's
        return None
    try:
        view = resolve(path).func
    except Resolver404:
        return None
    # DRF's as_view() keeps the class as `cls`, Django's as `view_class`.
    view_class = getattr(view, "cls", None) or getattr(view, "view_class", None)
    declared = getattr(view_class, name, None)
    return getattr(view, name, None) if declared is None else declared


def route_limit(path: str) -> int:
    """The largest body, in bytes, that the route serving `path` accepts with credentials."""
    declared = _route_declares(path, "request_body_limit")
    return default_limit() if declared is None else int(declared)


def spool_dir() -> str | None:
    """Where the web server spools accepted bodies; None: the system's temp folder."""
    if not apps.ready:  # an application that is not CastCore's
        return None
    return settings.FILE_UPLOAD_TEMP_DIR


def too_large_body(limit: int, path: str = "") -> bytes:
    """The 413 response's JSON body: the envelope, or the shape the route's view declares
    (`request_body_too_large(limit) -> bytes`: a compatible surface's own error shape)."""
    shape = _route_declares(path, "request_body_too_large") if path else None
    if shape is not None:
        return bytes(shape(limit))
    # Here, not at the top: castcore.serve imports this module before Django is set up.
    from castcore.api.errors import envelope

    return json.dumps(envelope(TOO_LARGE_CODE, {"limit_bytes": limit})).encode()


def declared_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    """The Content-Length of ASGI headers; None when absent or not a number."""
    for name, value in headers:
        if name.lower() == b"content-length":
            return int(value) if value.strip().isdigit() else None
    return None


async def send_too_large(send: Send, limit: int, path: str) -> None:
    body = too_large_body(limit, path)
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyLimitMiddleware:
    """ASGI: refuse a body over its route's limit, without letting the application read it."""

    def __init__(self, app: AsgiApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = scope.get("headers", [])
        limit = limit_for(scope["path"], headers)
        length = declared_length(headers)
        if length is not None and length > limit:
            await send_too_large(send, limit, scope["path"])
            return
        received = 0
        over = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, over
            if over:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # To the application the client is gone: Django stops reading and
                    # answers nothing; the 413 is sent below.
                    over = True
                    return {"type": "http.disconnect"}
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, limited_receive, watched_send)
        if over and not started:
            await send_too_large(send, limit, scope["path"])
