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
import logging
import mimetypes
import re
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from email.utils import formatdate
from pathlib import Path
from typing import Any, BinaryIO

from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils.http import parse_http_date_safe

from apps.recordings.models import Recording

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
CHUNK = 64 * 1024
# Reads for responses sent from the event loop: threads of their own, not the loop's
# default executor, which its name lookups share.
_READS = ThreadPoolExecutor(max_workers=8, thread_name_prefix="recording-read")
logger = logging.getLogger(__name__)

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


class _FileChunks:
    """`length` bytes of an open file from `first`, a chunk at a time.

    Django calls close() once the response is over, so the file is closed even if
    the body was never read. A read that fails (an I/O error, a file cut short since
    the view looked) ends the body early, logged: its headers are out by then, and
    an exception could only reach daphne.
    """

    def __init__(self, handle: BinaryIO, first: int, length: int) -> None:
        handle.seek(first)
        self.handle, self.remaining = handle, length

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        if self.remaining <= 0:
            raise StopIteration
        try:
            chunk = self.handle.read(min(CHUNK, self.remaining))
        except (OSError, ValueError) as exc:  # ValueError: closed meanwhile
            logger.warning("recording file %s: read failed: %s", self.handle.name, exc)
            raise StopIteration from None
        if not chunk:
            logger.warning(
                "recording file %s ended %d bytes early", self.handle.name, self.remaining
            )
            raise StopIteration
        self.remaining -= len(chunk)
        return chunk

    def close(self) -> None:
        self.handle.close()


class _ChunksOnThreads:
    """The same chunks for the event loop, each read on a thread of _READS."""

    def __init__(self, chunks: _FileChunks) -> None:
        self.chunks = chunks

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        loop = asyncio.get_running_loop()
        try:
            chunk = await loop.run_in_executor(_READS, next, self.chunks, None)
        except asyncio.CancelledError:
            # The client went away (Django then closes nothing): close the file once
            # the read still running on its thread is done.
            _READS.submit(self.chunks.close)
            raise
        if chunk is None:
            raise StopAsyncIteration
        return chunk

    def close(self) -> None:
        self.chunks.close()


def _body(
    request: HttpRequest, path: Path, first: int, length: int, **kwargs: Any
) -> StreamingHttpResponse:
    # Opened now: a recording deleted or replaced before the last chunk still sends the
    # file that was checked.
    chunks = _FileChunks(path.open("rb"), first, length)
    # Under ASGI (daphne), Django reads a synchronous iterator into a list before it
    # sends a byte; under WSGI (the test servers), an asynchronous one.
    content = _ChunksOnThreads(chunks) if isinstance(request, ASGIRequest) else chunks
    response = StreamingHttpResponse(content, **kwargs)
    response["Content-Length"] = str(length)
    return response


def serve_recording_file(
    request: HttpRequest, recording: Recording, *, attachment: bool = False
) -> HttpResponse | StreamingHttpResponse:
    """The recording's original file (the .cast, or the video as it was recorded)."""
    extension = recording.file_extension
    return serve_stored_file(
        request,
        recording,
        Path(recording.file.path),
        content_type=CONTENT_TYPES.get(extension),
        filename=f"{recording.pk}.{extension}",
        attachment=attachment,
    )


def serve_stored_file(
    request: HttpRequest,
    recording: Recording,
    path: Path,
    *,
    content_type: str | None,
    filename: str,
    attachment: bool = False,
) -> HttpResponse | StreamingHttpResponse:
    """One of the recording's files (original, playable copy, poster), with ranges."""
    if not path.is_file():
        return HttpResponse(status=404)
    size = path.stat().st_size
    etag = _etag(recording, path)
    mtime = path.stat().st_mtime
    content_type = content_type or mimetypes.guess_type(path.name)[0] or "application/octet-stream"

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
        else:
            if wanted is None:
                first, last = 0, size - 1
            else:
                assert isinstance(wanted, tuple)
                first, last = wanted
            try:
                response = _body(request, path, first, last - first + 1, content_type=content_type)
            except FileNotFoundError:  # deleted since it was looked at
                return HttpResponse(status=404)
            if wanted is not None:
                response.status_code = 206
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
