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


def _children(container: dict[Any, Any] | list[Any]) -> Any:
    return container.values() if isinstance(container, dict) else container


def _deeper_than(value: Any, max_depth: int) -> bool:
    """Whether containers nest more than max_depth levels.

    Depth first with one iterator per open level, no recursion: the stack holds as
    many entries as the document is deep, not one per container (a flat list of
    170,000 objects would have cost a tuple each, megabytes, at every request).
    """
    if not isinstance(value, dict | list):
        return False
    stack = [iter(_children(value))]  # the iterators of the open levels; depth = len(stack)
    while stack:
        for child in stack[-1]:
            if isinstance(child, dict | list):
                if len(stack) + 1 > max_depth:
                    return True
                stack.append(iter(_children(child)))
                break
        else:
            stack.pop()
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
