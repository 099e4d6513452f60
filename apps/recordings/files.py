"""Serve a recording's file with HTTP range requests (RFC 9110 §14), for players and downloads.

One range per request (browsers and asciinema-player ask for one); a request
for several gets the whole file, which the RFC allows. If-Range with a stale
validator also gets the whole file; If-None-Match answers 304.

Under ASGI the body is an async iterator: Django reads a synchronous one (a
FileResponse's too) into a list before sending a byte, so a 200 MB recording
took 200 MB of the web process's memory and 0.8 s before its first byte. Read
a chunk at a time on a thread, the file goes out as it is read.
"""

from __future__ import annotations

import asyncio
import contextlib
import mimetypes
import re
from collections.abc import AsyncIterator, Iterator
from email.utils import formatdate
from pathlib import Path
from typing import Any

from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils.http import parse_http_date_safe

from apps.recordings.models import Recording

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
CHUNK = 64 * 1024

CONTENT_TYPES = {"cast": "application/x-asciicast", "mp4": "video/mp4", "webm": "video/webm"}


def _etag(recording: Recording, path: Path) -> str:
    stat = path.stat()
    return f'"{recording.pk:x}-{stat.st_size:x}-{stat.st_mtime_ns:x}"'


def _parse_range(header: str, size: int) -> tuple[int, int] | bool | None:
    """(first, last) inclusive; None to serve everything; False when unsatisfiable."""
    match = _RANGE.match(header.strip().replace(" ", ""))
    if not match:
        return None  # malformed or several ranges: ignore the header
    first_raw, last_raw = match.groups()
    if not first_raw and not last_raw:
        return None
    if not first_raw:  # suffix: the last N bytes
        length = int(last_raw)
        if length == 0:
            return False
        return max(size - length, 0), size - 1
    first = int(first_raw)
    last = min(int(last_raw), size - 1) if last_raw else size - 1
    if first >= size or (last_raw and int(last_raw) < first):
        return False
    return first, last


def _if_range_allows(request: HttpRequest, etag: str, mtime: float) -> bool:
    validator = request.headers.get("If-Range")
    if not validator:
        return True
    if validator.startswith(('"', "W/")):
        return validator == etag  # strong comparison only
    date = parse_http_date_safe(validator)
    return date is not None and int(mtime) <= date


def _read(path: Path, first: int, remaining: int) -> Iterator[bytes]:
    """`remaining` bytes from `first`, a chunk at a time.

    The file is opened on the first read, not before: a response that is never sent
    (the client went away) leaves no open file behind.
    """
    with path.open("rb") as handle:
        handle.seek(first)
        while remaining > 0:
            chunk = handle.read(min(CHUNK, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk


async def _read_on_threads(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    """`chunks`, each read on a thread, for the event loop."""
    try:
        while (chunk := await asyncio.to_thread(next, chunks, None)) is not None:
            yield chunk
    finally:
        close = getattr(chunks, "close", None)
        # ValueError: the client went away while a read ran on its thread; the
        # generator then closes its file when it is collected.
        with contextlib.suppress(ValueError):
            if close is not None:
                close()


def _body(
    request: HttpRequest, path: Path, first: int, length: int, **kwargs: Any
) -> StreamingHttpResponse:
    chunks = _read(path, first, length)
    # Under ASGI (daphne), Django reads a synchronous iterator into a list before it
    # sends a byte; under WSGI (the test servers), an asynchronous one.
    content = _read_on_threads(chunks) if isinstance(request, ASGIRequest) else chunks
    response = StreamingHttpResponse(content, **kwargs)
    response["Content-Length"] = str(length)
    return response


def serve_recording_file(
    request: HttpRequest, recording: Recording, *, attachment: bool = False
) -> HttpResponse | StreamingHttpResponse:
    path = Path(recording.file.path)
    if not path.is_file():
        return HttpResponse(status=404)
    size = path.stat().st_size
    etag = _etag(recording, path)
    mtime = path.stat().st_mtime
    extension = recording.file_extension
    content_type = (
        CONTENT_TYPES.get(extension)
        or mimetypes.guess_type(path.name)[0]
        or "application/octet-stream"
    )
    filename = f"{recording.pk}.{extension}"

    response: HttpResponse | StreamingHttpResponse
    if request.headers.get("If-None-Match") == etag:
        response = HttpResponse(status=304)
    else:
        wanted = (
            _parse_range(request.headers.get("Range", ""), size)
            if "Range" in request.headers
            else None
        )
        if wanted is not None and not _if_range_allows(request, etag, mtime):
            wanted = None
        if wanted is False:
            response = HttpResponse(status=416)
            response["Content-Range"] = f"bytes */{size}"
        elif request.method == "HEAD":
            response = HttpResponse(content_type=content_type)  # the headers of a GET, no body
            response["Content-Length"] = str(size)
        elif wanted is None:
            response = _body(request, path, 0, size, content_type=content_type)
        else:
            assert isinstance(wanted, tuple)
            first, last = wanted
            response = _body(
                request, path, first, last - first + 1, status=206, content_type=content_type
            )
            response["Content-Range"] = f"bytes {first}-{last}/{size}"
    response["Accept-Ranges"] = "bytes"
    response["ETag"] = etag
    response["Last-Modified"] = formatdate(mtime, usegmt=True)
    disposition = "attachment" if attachment else "inline"
    response["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    if recording.visibility != "public":
        response["Cache-Control"] = "private, no-store"
        response["X-Robots-Tag"] = "noindex"
    return response
