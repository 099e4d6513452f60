"""What every WebSocket consumer shares: close codes and ids taken from the URL."""

from __future__ import annotations

from typing import Any

from castcore.api.filters import MAX_ID

# 4000 + the HTTP status a REST call would have answered with.
CLOSE_BAD_DATA = 4400
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
# RFC 6455: the server met a condition that kept it from serving (the database was
# unreachable): the client should connect again and read the current state.
CLOSE_INTERNAL_ERROR = 1011


def route_id(scope: dict[str, Any], name: str) -> int | None:
    """The id in the URL, or None when no row can have it.

    Routes match digits of any length (`<int:…>` would turn a 5000-digit id into
    "no route", which the server answers with a bare 403). Bounded before any
    query: a BIGINT holds at most MAX_ID, and int() refuses strings of thousands
    of digits, so the length is checked first.
    """
    digits = str(scope["url_route"]["kwargs"][name]).lstrip("0")
    if not digits.isdigit() or len(digits) > len(str(MAX_ID)):
        return None
    value = int(digits)
    return value if value <= MAX_ID else None
