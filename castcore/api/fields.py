"""Serializer fields shared by every app."""

from __future__ import annotations

from typing import Any, TypeVar

from django.db import models
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from castcore.api.errors import invalid_choice
from castcore.secrets import MASK, mask, remember

_M = TypeVar("_M", bound=models.Model)


@extend_schema_field(
    {
        "type": "string",
        "description": "Write-only secret: accepted in clear, returned masked (`••••1234`).",
        "example": "••••1234",
    }
)
class SecretField(serializers.CharField):
    """A secret: written in clear, always read back masked, never logged."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("trim_whitespace", False)
        kwargs.setdefault("style", {"input_type": "password"})
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        if value.startswith(MASK):
            # Clients send back what they read; a masked value means "keep
            # the stored secret", never "store these bullets".
            raise serializers.SkipField()
        remember(value)
        return value

    def to_representation(self, value: Any) -> str:
        return mask(str(value)) if value else ""


def field_path(field: serializers.Field) -> str:
    """`outputs.kind` for a field nested in serializers (list positions are not known here)."""
    names: list[str] = []
    node: Any = field
    while node is not None:
        if getattr(node, "field_name", None):
            names.append(node.field_name)
        node = node.parent
    return ".".join(reversed(names))


class ChoiceField(serializers.ChoiceField):
    """A choice whose refusal tells the client what it may send: `params.allowed`.

    DRF rebuilds every ValidationError's details as it collects them, so a
    refusal cannot carry extra params through them; this one leaves as an
    ApiError in the same envelope (`validation.invalid_choice`, `params.field`).
    """

    def to_internal_value(self, data: Any) -> Any:
        try:
            return super().to_internal_value(data)
        except serializers.ValidationError:
            allowed = [str(choice) for choice in self.choices]
            raise invalid_choice(field_path(self), allowed) from None


class ModelSerializer(serializers.ModelSerializer[_M]):
    """DRF's, with CastCore's ChoiceField for model fields that have choices."""

    serializer_choice_field = ChoiceField
