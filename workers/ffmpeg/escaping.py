"""Escaping for the parsers ffmpeg runs a second time over argv values."""

from __future__ import annotations

import os
from pathlib import Path


def tee_escape(value: str) -> str:
    """Escape one level of av_get_token: a backslash makes any following char literal."""
    return "".join("\\" + c if c in "\\'|[]:=,; \t\r\n" else c for c in value)


def filter_value_escape(value: str) -> str:
    """Escape a filter option value, then the filtergraph level around it."""
    value = "".join("\\" + c if c in "\\':" else c for c in value)
    return "".join("\\" + c if c in "\\'[],;" else c for c in value)


def file_url(path: str | Path) -> str:
    # `file:` stops ffmpeg reading `a:b` as protocol `a`; absolute paths never start with `-`.
    return "file:" + os.path.abspath(path)
