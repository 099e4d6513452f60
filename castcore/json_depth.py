"""json.loads with a bound on nesting, for every JSON reader in CastCore (no Django here).

Python's json parser recurses once per level: a document nested a thousand
levels deep raised RecursionError, which callers that catch ValueError for bad
JSON do not expect (a 500, reachable anonymously through the login). A document
just under the interpreter's limit would fail later, wherever code walks it
again. No document CastCore reads needs more than a few levels, so anything
deeper than MAX_JSON_DEPTH is refused as JSONTooDeep, a ValueError like json's own.
"""

from __future__ import annotations

import json
from typing import Any

MAX_JSON_DEPTH = 64


class JSONTooDeep(ValueError):
    """A JSON document nested deeper than MAX_JSON_DEPTH (a ValueError, as json's own)."""

    def __init__(self, max_depth: int = MAX_JSON_DEPTH) -> None:
        super().__init__(f"JSON nested deeper than {max_depth} levels")
        self.max_depth = max_depth


def _deeper_than(value: Any, max_depth: int) -> bool:
    """Whether containers nest more than max_depth levels (iterative: no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item  # type: ignore[assignment]
        else:
            continue
        if depth > max_depth:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def loads(text: str | bytes, *, max_depth: int = MAX_JSON_DEPTH, **kwargs: Any) -> Any:
    """json.loads that raises JSONTooDeep (a ValueError) for documents nested too deep."""
    try:
        value = json.loads(text, **kwargs)
    except RecursionError:
        raise JSONTooDeep(max_depth) from None
    if _deeper_than(value, max_depth):
        raise JSONTooDeep(max_depth)
    return value
