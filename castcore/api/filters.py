"""Filter pieces shared by every app's FilterSet."""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django_filters.rest_framework import DjangoFilterBackend
from django_filters.utils import translate_validation
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework.filters import OrderingFilter

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


_BOOLEANS = {"true": True, "false": False, "1": True, "0": False}


@extend_schema_field(OpenApiTypes.BOOL)
class StrictBooleanFilter(django_filters.TypedChoiceFilter):
    """A yes/no filter that refuses `?visible=zzz` (validation.invalid_choice).

    django-filter's BooleanFilter reads what it does not know as "no filter": a typo
    listed everything, the opposite of what was asked.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("choices", [(name, name) for name in _BOOLEANS])
        kwargs.setdefault("coerce", lambda value: _BOOLEANS[value])
        kwargs.setdefault("empty_value", None)
        super().__init__(*args, **kwargs)


class StrictOrderingFilter(OrderingFilter):
    """OrderingFilter that refuses an unknown field (`?ordering=bogus`) instead of ignoring it."""

    def get_ordering(self, request: Any, queryset: Any, view: Any) -> Any:
        params = request.query_params.get(self.ordering_param)
        if params:
            fields = [param.strip() for param in params.split(",")]
            allowed = [
                name for name, _ in self.get_valid_fields(queryset, view, {"request": request})
            ]
            if any(field.lstrip("-") not in allowed for field in fields):
                raise invalid_choice(self.ordering_param, sorted(allowed))
        return super().get_ordering(request, queryset, view)
