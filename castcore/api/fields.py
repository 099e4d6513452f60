"""Serializer fields shared by every app."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from castcore.secrets import MASK, mask, remember


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
