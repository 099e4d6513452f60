"""Send a file that a view has authorised: by CastCore itself, or by nginx (X-Accel-Redirect).

Views check access (the same rules as the API) and then call `send_file`: media
assets, thumbnails, the favicon and recording files all go out here. With
CASTCORE_X_ACCEL_REDIRECT set to an nginx `internal` location that aliases the
media root, the answer to a file under the media root carries only headers and
nginx sends the bytes (ranges, sendfile, slow clients: none of it in a web
process). Otherwise (`make run`, or a file elsewhere) CastCore sends the file
itself, as RFC 9110 §13-14 has it: one range per GET (browsers, <video> seeking
and asciinema-player ask for one; several get the whole file, which the RFC
allows), a suffix range, 416 for a range beyond the end, If-Range with a strong
ETag or a date, If-None-Match answered with 304, HEAD with the headers of a GET.

Under ASGI the body is an async iterator read on threads: Django reads a
synchronous iterator (a FileResponse's too) into memory whole before sending a
byte, which for a 500 MB intro clip or recording is the web process's memory.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import stat
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from email.utils import formatdate
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote

from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils.http import content_disposition_header, parse_http_date_safe

CHUNK = 64 * 1024
_RANGE = re.compile(r"^bytes=([0-9]*)-([0-9]*)$")
# More digits than any file's size or offset can have (int() refuses 4,300 with a
# ValueError, which would be a 500).
_MAX_DIGITS = 19
# Reads for responses sent from the event loop: threads of their own, not the loop's
# default executor, which its name lookups share.
_READS = ThreadPoolExecutor(max_workers=8, thread_name_prefix="file-read")
logger = logging.getLogger(__name__)

# An ETag, or how to make one from the file's stat (a tag that changes with the file).
ETag = str | Callable[[os.stat_result], str]


class _Unsatisfiable(Exception):
    """The Range header asks only for bytes the file does not have (416)."""


# An nginx `internal` location and the folder it aliases.
XAccel = tuple[Path, str]


def x_accel_location(path: Path, x_accel: XAccel | None = None) -> str | None:
    """The internal nginx URI for `path`, when X-Accel-Redirect is on and the file is under
    its folder: the media root by default (CASTCORE_X_ACCEL_REDIRECT), or `x_accel`'s."""
    root, prefix = x_accel or (Path(settings.MEDIA_ROOT), settings.X_ACCEL_REDIRECT_PREFIX)
    if not prefix:
        return None
    try:
        relative = path.resolve().relative_to(root.resolve())
    except ValueError:
        return None  # not under the media root, which is all the location aliases
    return prefix.rstrip("/") + "/" + quote(relative.as_posix())


def _offset(digits: str) -> int:
    # More digits than any file's size is as good as infinite, and no int() of 5,000.
    return int(digits) if len(digits) <= _MAX_DIGITS else 10**_MAX_DIGITS


def _byte_range(header: str, size: int) -> tuple[int, int] | None:
    """(first, last) inclusive of a single range; None to send the whole file.

    Raises _Unsatisfiable for a range that starts past the end (or a suffix of 0
    bytes). A header that is malformed or names several ranges is ignored (RFC 9110
    §14.1.1 and §14.2), and so is any range of an empty file, whose bytes no
    Content-Range can name.
    """
    match = _RANGE.match(header.strip().replace(" ", ""))
    if not match or size == 0:
        return None
    first_raw, last_raw = match.groups()
    if not first_raw:
        if not last_raw:
            return None
        suffix = _offset(last_raw)
        if suffix == 0:
            raise _Unsatisfiable
        return max(size - suffix, 0), size - 1
    first, last = _offset(first_raw), _offset(last_raw) if last_raw else size - 1
    if last_raw and last < first:
        return None
    if first >= size:
        raise _Unsatisfiable
    return first, min(last, size - 1)


def _if_range_allows(request: HttpRequest, etag: str, mtime: float) -> bool:
    """False when If-Range names another version of the file: then the whole file goes."""
    validator = request.headers.get("If-Range")
    if not validator:
        return True
    if validator.startswith(('"', "W/")):
        return validator == etag  # strong comparison only: a weak tag never matches
    date = parse_http_date_safe(validator)
    return date is not None and int(mtime) <= date


def _none_match(request: HttpRequest, etag: str) -> bool:
    """If-None-Match names this file's tag (weak comparison, RFC 9110 §13.1.2), or is *."""
    header = request.headers.get("If-None-Match")
    if not header:
        return False
    if header.strip() == "*":
        return True
    tags = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return etag.removeprefix("W/") in tags


class _Chunks:
    """`length` bytes of an open file from `first`, a chunk at a time.

    Django calls close() once the response is over, so the file is closed even if
    the body was never read. A read that fails (an I/O error, a file cut short since
    the view looked) ends the body early, logged: its headers are out by then, and
    an exception could only reach the server.
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
            logger.warning("file %s: read failed: %s", self.handle.name, exc)
            raise StopIteration from None
        if not chunk:
            logger.warning("file %s ended %d bytes early", self.handle.name, self.remaining)
            raise StopIteration
        self.remaining -= len(chunk)
        return chunk

    def close(self) -> None:
        self.handle.close()


class _ChunksOnThreads:
    """The same chunks for the event loop, each read on a thread of _READS."""

    def __init__(self, chunks: _Chunks) -> None:
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
    request: HttpRequest, handle: BinaryIO, first: int, length: int, content_type: str
) -> StreamingHttpResponse:
    chunks = _Chunks(handle, first, length)
    # Under ASGI (daphne), Django reads a synchronous iterator into a list before it
    # sends a byte; under WSGI (the test client), an asynchronous one.
    body = _ChunksOnThreads(chunks) if isinstance(request, ASGIRequest) else chunks
    return StreamingHttpResponse(body, content_type=content_type)


def _sent_by_castcore(
    request: HttpRequest, path: Path, info: os.stat_result, etag: str, content_type: str
) -> HttpResponse | StreamingHttpResponse:
    """The answer when CastCore sends the bytes itself: 304, 416, 200 or 206.

    Raises OSError when the file cannot be opened any more.
    """
    if _none_match(request, etag):
        return HttpResponse(status=304)
    size = info.st_size
    wanted = None
    # Ranges are defined for GET only (RFC 9110 §14.2): HEAD gets the headers of a whole
    # GET. An If-Range that names another version of the file makes it a whole GET too.
    if (
        request.method == "GET"
        and "Range" in request.headers
        and _if_range_allows(request, etag, info.st_mtime)
    ):
        try:
            wanted = _byte_range(request.headers["Range"], size)
        except _Unsatisfiable:
            refused = HttpResponse(status=416)
            refused["Content-Range"] = f"bytes */{size}"
            return refused
    first, last = wanted or (0, size - 1)
    response: HttpResponse | StreamingHttpResponse
    if request.method == "HEAD":
        response = HttpResponse(content_type=content_type)
    else:
        # Opened now: a file deleted or replaced before the last chunk still sends the
        # file that was checked.
        response = _body(request, path.open("rb"), first, last - first + 1, content_type)
    response["Content-Length"] = str(last - first + 1)
    if wanted is not None:
        response.status_code = 206
        response["Content-Range"] = f"bytes {first}-{last}/{size}"
    return response


def send_file(
    request: HttpRequest,
    path: Path,
    *,
    content_type: str,
    etag: ETag,
    cache_control: str | None = "private, max-age=3600",
    filename: str | None = None,
    attachment: bool = False,
    x_accel: XAccel | None = None,
) -> HttpResponse | StreamingHttpResponse:
    """The file at `path` (already authorised), or 404 if it is gone.

    `etag` is the tag itself or a function of the file's stat that makes it;
    `cache_control` None sends no Cache-Control; `filename` and `attachment` make the
    Content-Disposition (inline unless `attachment`), none without either; `x_accel`
    names another nginx location than the media root's for files under its folder.
    """
    django_request = getattr(request, "_request", request)  # a DRF Request wraps Django's
    try:
        info = path.stat()
    except OSError:
        return HttpResponse(status=404)
    if not stat.S_ISREG(info.st_mode):
        return HttpResponse(status=404)
    tag = etag if isinstance(etag, str) else etag(info)
    response: HttpResponse | StreamingHttpResponse
    internal = x_accel_location(path, x_accel)
    if internal is not None:
        # nginx answers conditionals and ranges from the file itself.
        response = HttpResponse(content_type=content_type)
        response["X-Accel-Redirect"] = internal
    else:
        try:
            response = _sent_by_castcore(django_request, path, info, tag, content_type)
        except OSError:  # deleted (or made unreadable) since it was looked at
            return HttpResponse(status=404)
    response["Accept-Ranges"] = "bytes"
    response["ETag"] = tag
    response["Last-Modified"] = formatdate(info.st_mtime, usegmt=True)
    if cache_control is not None:
        response["Cache-Control"] = cache_control
    disposition = content_disposition_header(attachment, filename or "")
    if disposition:
        response["Content-Disposition"] = disposition
    return response
