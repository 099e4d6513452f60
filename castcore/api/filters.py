"""Filter pieces shared by every app's FilterSet."""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms

# Largest value a BIGINT primary key can hold; beyond it the database driver
# raises OverflowError (a 500) instead of finding nothing.
MAX_ID = 2**63 - 1


class IdFilter(django_filters.NumberFilter):
    """A filter on a primary or foreign key: whole numbers from 1 to MAX_ID."""

    field_class = forms.IntegerField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


def parse_id(raw: str) -> int | None:
    """The id `raw` names, or None when no row can have one.

    ASCII digits only: str.isdigit() also takes "³" (which int() then refuses: a
    500) and int() takes other scripts' digits (Arabic-Indic "1" is 1), so neither is the test.
    The length is bounded before int(), which refuses strings of thousands of
    digits, and the value by what a BIGINT holds.
    """
    if not (raw.isascii() and raw.isdigit()) or len(raw.lstrip("0")) > len(str(MAX_ID)):
        return None
    value = int(raw)
    return value if value <= MAX_ID else None
