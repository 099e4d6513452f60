"""A recording's files over HTTP, for players and downloads: what is recording-specific.

Which file, its content type, an ETag from the recording and the file, the
filename, and the headers that follow visibility. Ranges, conditionals, HEAD,
chunked reads and X-Accel-Redirect are castcore.files', as for every file.
"""

from __future__ import annotations

import mimetypes
import os
from pathlib import Path

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse

from apps.recordings.models import Recording
from castcore.files import send_file

CONTENT_TYPES = {"cast": "application/x-asciicast", "mp4": "video/mp4", "webm": "video/webm"}


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

    def etag(info: os.stat_result) -> str:
        # The recording's id keeps two recordings' files apart even with the same stat.
        return f'"{recording.pk:x}-{info.st_size:x}-{info.st_mtime_ns:x}"'

    public = recording.visibility == "public"
    response = send_file(
        request,
        path,
        content_type=content_type
        or mimetypes.guess_type(path.name)[0]
        or "application/octet-stream",
        etag=etag,
        # A file only some may see stays out of shared caches and search engines.
        cache_control=None if public else "private, no-store",
        filename=filename,
        attachment=attachment,
    )
    if not public:
        response["X-Robots-Tag"] = "noindex"
    return response
