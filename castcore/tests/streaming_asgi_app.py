"""A bare ASGI app for the server tests: `GET /?mb=N` answers N MB as fast as it can.

Each chunk is a new object, as a file's chunks are: a server that buffers what it
is given holds all of them.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

CHUNK = 64 * 1024


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    megabytes = int(parse_qs(scope["query_string"].decode()).get("mb", ["1"])[0])
    chunks = megabytes * (1024 * 1024 // CHUNK)
    headers = [(b"content-length", str(chunks * CHUNK).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    for _ in range(chunks):
        await send({"type": "http.response.body", "body": bytes(CHUNK), "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})
