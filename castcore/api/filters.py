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
