"""The engine's error type and the value checks every spec type shares.

SpecError's `code`/`params` follow the API error convention (`spec.<reason>`)
and never include secrets.
"""

from __future__ import annotations

import math
import os

# Every refusal of a path a user chose, for its shape or its place, is this one
# code; `params.reason` says which rule (not_absolute, outside_roots, protected...).
PATH_NOT_ALLOWED = "stream_job.path_not_allowed"


class SpecError(ValueError):
    """A spec value is invalid; `code` and `params` are the machine-readable contract."""

    def __init__(self, code: str, **params: object) -> None:
        super().__init__(code)
        self.code = code
        self.params = params


class InputNotReady(SpecError):
    """The input is valid but has nothing to read yet (a channel's relay before the
    channel's current session wrote its first segment): a run waits and asks again,
    where any other SpecError fails it."""


def check_range(name: str, value: float | None, low: float, high: float) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise SpecError("spec.invalid_number", field=name)
    if not low <= value <= high:
        raise SpecError("validation.out_of_range", field=name, min=low, max=high)


def check_no_nul(name: str, value: str) -> None:
    # NUL cannot be passed through execve; everything else is one argv element.
    if not isinstance(value, str) or not value or "\x00" in value:
        raise SpecError("spec.invalid_text", field=name)


def check_abs_path(name: str, value: str) -> None:
    """Shape only; where a path may point is the policy's business (policy.py)."""
    check_no_nul(name, value)
    if not os.path.isabs(value):
        raise SpecError(PATH_NOT_ALLOWED, field=name, reason="not_absolute")
