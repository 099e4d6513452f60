"""An HTTP request straight to an ASGI application in tests: its scope, and its answer."""

from __future__ import annotations

import json
from typing import Any

from asgiref.testing import ApplicationCommunicator


def http_scope(path: str, *headers: tuple[bytes, bytes]) -> dict[str, Any]:
    """A POST to `path` from 127.0.0.1 with these headers (and `host: localhost`)."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"localhost"), *headers],
        "client": ("127.0.0.1", 1234),
        "server": ("127.0.0.1", 80),
    }


async def json_answer(communicator: ApplicationCommunicator, timeout: float = 5) -> tuple[int, Any]:
    """The status and the JSON body the application answers."""
    start = await communicator.receive_output(timeout=timeout)
    body = b""
    while True:
        message = await communicator.receive_output(timeout=timeout)
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    return start["status"], json.loads(body)
