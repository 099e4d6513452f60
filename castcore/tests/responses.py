"""Reading a response's body in tests, whatever kind of response a view returned."""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync


def body_of(response: Any) -> bytes:
    """The whole body: of a plain response, or of a streaming one, sync or async."""
    if not response.streaming:
        return bytes(response.content)
    if not response.is_async:
        return b"".join(response.streaming_content)

    async def collect() -> bytes:
        return b"".join([part async for part in response.streaming_content])

    return async_to_sync(collect)()
