"""Send a file that a view has authorised: by CastCore itself, or by nginx (X-Accel-Redirect).

Views check access (the same rules as the API) and then call `send_file`. With
CASTCORE_X_ACCEL_REDIRECT set to an nginx `internal` location that aliases the
media root, the answer carries only headers and nginx sends the bytes (ranges,
sendfile, slow clients: none of it in a web process). Unset (`make run`),
CastCore sends the file itself: a chunk at a time, one range per request (RFC
9110 §14; enough for <video> seeking), If-None-Match answered with 304.

Under ASGI the body is an async iterator read on threads: Django reads a
synchronous iterator (a FileResponse's too) into memory whole before sending a
byte, which for a 500 MB intro clip is the web process's memory.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from email.utils import formatdate
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote

from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse

CHUNK = 64 * 1024
_RANGE = re.compile(r"^bytes=([0-9]*)-([0-9]*)$")
_READS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="file-read")
logger = logging.getLogger(__name__)


def x_accel_location(path: Path) -> str | None:
    """The internal nginx URI for `path`, when X-Accel-Redirect is on and the file is media."""
    prefix = settings.X_ACCEL_REDIRECT_PREFIX
    if not prefix:
        return None
    try:
        relative = path.resolve().relative_to(Path(settings.MEDIA_ROOT).resolve())
    except ValueError:
        return None  # not under the media root, which is all the location aliases
    return prefix.rstrip("/") + "/" + quote(relative.as_posix())


def _byte_range(header: str, size: int) -> tuple[int, int] | None:
    """(first, last) of a single satisfiable range; None to send the whole file."""
    match = _RANGE.match(header.replace(" ", ""))
    if not match or size == 0:
        return None
    first_raw, last_raw = match.groups()
    if len(first_raw) > 19 or len(last_raw) > 19:
        return None
    if not first_raw:
        if not last_raw or int(last_raw) == 0:
            return None
        return max(size - int(last_raw), 0), size - 1
    first = int(first_raw)
    last = min(int(last_raw), size - 1) if last_raw else size - 1
    if first > last:
        return None
    return first, last


class _Chunks:
    """`length` bytes of an open file from `first`; closed by Django when the response ends."""

    def __init__(self, handle: BinaryIO, first: int, length: int) -> None:
        handle.seek(first)
        self.handle, self.remaining = handle, length

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        try:
            chunk = self.handle.read(min(CHUNK, self.remaining)) if self.remaining > 0 else b""
        except (OSError, ValueError) as exc:  # ValueError: closed meanwhile
            # The headers are out: end the body early (the client sees a short file);
            # an exception could only reach the server.
            logger.warning("file %s: read failed: %s", self.handle.name, exc)
            raise StopIteration from None
        if not chunk:
            raise StopIteration
        self.remaining -= len(chunk)
        return chunk

    def close(self) -> None:
        self.handle.close()


class _ChunksOnThreads:
    def __init__(self, chunks: _Chunks) -> None:
        self.chunks = chunks

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        loop = asyncio.get_running_loop()
        try:
            chunk = await loop.run_in_executor(_READS, next, self.chunks, None)
        except asyncio.CancelledError:
            # The client went away and Django closes nothing then: close the file once
            # the read still running on its thread is done.
            _READS.submit(self.chunks.close)
            raise
        if chunk is None:
            raise StopAsyncIteration
        return chunk

    def close(self) -> None:
        self.chunks.close()


def send_file(
    request: HttpRequest,
    path: Path,
    *,
    content_type: str,
    etag: str,
    cache_control: str = "private, max-age=3600",
) -> HttpResponse | StreamingHttpResponse:
    """The file at `path` (already authorised), or 404 if it is gone."""
    django_request = getattr(request, "_request", request)  # a DRF Request wraps Django's
    try:
        stat = path.stat()
    except OSError:
        return HttpResponse(status=404)
    response: HttpResponse | StreamingHttpResponse
    internal = x_accel_location(path)
    if internal is not None:
        # nginx answers conditionals and ranges from the file itself.
        response = HttpResponse(content_type=content_type)
        response["X-Accel-Redirect"] = internal
    elif etag in [tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")]:
        response = HttpResponse(status=304)
    else:
        wanted = _byte_range(request.headers.get("Range", ""), stat.st_size)
        first, last = wanted or (0, stat.st_size - 1)
        length = max(last - first + 1, 0)
        if request.method == "HEAD":
            response = HttpResponse(content_type=content_type)
        else:
            chunks = _Chunks(path.open("rb"), first, length)
            body = _ChunksOnThreads(chunks) if isinstance(django_request, ASGIRequest) else chunks
            response = StreamingHttpResponse(body, content_type=content_type)
        response["Content-Length"] = str(length)
        if wanted is not None:
            response.status_code = 206
            response["Content-Range"] = f"bytes {first}-{last}/{stat.st_size}"
        response["Accept-Ranges"] = "bytes"
    response["ETag"] = etag
    response["Last-Modified"] = formatdate(stat.st_mtime, usegmt=True)
    response["Cache-Control"] = cache_control
    return response
