"""Stop reading an upload as soon as it passes the size limit.

Django's multipart parser hands each chunk to the upload handlers as it
reads the body; this one, installed first by POST /assets, fails the request
with 413 `asset.too_large` on the chunk that crosses the limit, before the
temporary-file handler has written the rest to disk.
"""

from __future__ import annotations

from typing import Any

from django.core.files.uploadhandler import FileUploadHandler

from castcore.api.errors import ApiError

#: Multipart framing and the small form fields around the file.
FORM_OVERHEAD = 64 * 1024


class TooLarge(ApiError):
    status_code = 413
    default_code = "asset.too_large"


class SizeLimitUploadHandler(FileUploadHandler):
    def __init__(self, max_bytes: int, request: Any = None) -> None:
        super().__init__(request)
        self.max_bytes = max_bytes

    def handle_raw_input(
        self, input_data: Any, META: Any, content_length: int, boundary: Any, encoding: Any = None
    ) -> None:
        # A declared length over the limit is refused before a byte of it is read.
        if content_length and content_length > self.max_bytes + FORM_OVERHEAD:
            raise TooLarge(params={"max_bytes": self.max_bytes})

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        if start + len(raw_data) > self.max_bytes:
            raise TooLarge(params={"max_bytes": self.max_bytes})
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None
