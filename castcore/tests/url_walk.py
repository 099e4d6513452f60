"""Walk the URLconf: every route, its view class and methods, a sample path for it.

Shared by the tests that check a rule on every endpoint (access rules, hostile input).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver

_GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)")
_ROUTE_PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")
SAMPLE_UUID = "00000000-0000-0000-0000-000000000001"


def sample_path(route: str, value: str | None = None) -> str:
    """`route` (as the resolver spells it) with every parameter filled in.

    By default with "1" (a UUID for `<uuid:…>`); with `value`, every parameter
    gets that text, whatever its converter.
    """
    route = route.replace("^", "").replace("$", "").replace("\\", "")
    route = _GROUP.sub(lambda m: value or "1", route)
    return _ROUTE_PARAM.sub(
        lambda m: value or (SAMPLE_UUID if m.group(1) == "uuid" else "1"), route
    )


def has_parameters(route: str) -> bool:
    return bool(_GROUP.search(route) or _ROUTE_PARAM.search(route))


def walk(patterns: list[Any] | None = None, prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
    """(route, pattern) for every URL pattern, nested includes flattened."""
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(entry, URLResolver):
            yield from walk(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), entry


def methods(callback: Any) -> set[str]:
    actions = getattr(callback, "actions", None)
    if actions:
        return {method.upper() for method in actions}
    cls = view_class(callback)
    if cls is None:
        return set()
    return {m.upper() for m in ("get", "post", "put", "patch", "delete") if hasattr(cls, m)}


def view_class(callback: Any) -> Any:
    return getattr(callback, "cls", None) or getattr(callback, "view_class", None)
