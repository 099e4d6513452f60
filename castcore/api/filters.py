"""Filter pieces shared by every app's FilterSet."""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django_filters.rest_framework import DjangoFilterBackend
from django_filters.utils import translate_validation

from castcore.api.errors import invalid_choice

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


class FilterBackend(DjangoFilterBackend):
    """django-filter's backend, whose refusal of an unknown choice lists the known ones.

    `?state=bogus` answers `validation.invalid_choice` with `params.allowed`, like
    a body field does (castcore.api.fields.ChoiceField); other errors are unchanged.
    """

    def filter_queryset(self, request: Any, queryset: Any, view: Any) -> Any:
        filterset = self.get_filterset(request, queryset, view)
        if filterset is None:
            return queryset
        if not filterset.is_valid():
            for name, errors in filterset.errors.as_data().items():
                if any(error.code == "invalid_choice" for error in errors):
                    choices = getattr(filterset.form.fields[name], "choices", ())
                    allowed = [str(value) for value, _ in choices if value not in ("", None)]
                    raise invalid_choice(name, allowed)
            raise translate_validation(filterset.errors)
        return filterset.qs
