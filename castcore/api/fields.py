"""Serializer fields shared by every app."""

from __future__ import annotations

from typing import Any, TypeVar

from django.db import models
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from castcore.api.errors import ApiError, invalid_choice
from castcore.secrets import MASK, mask, remember
from workers.ffmpeg.masking import SECRET_MASK, mask_url
from workers.ffmpeg.urls import url_secrets

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


MASKED_URL_HELP = (
    "Passwords, passphrases, stream ids and tokens in a URL are returned masked (`••••`); "
    "sending the masked URL back unchanged keeps the stored one."
)


@extend_schema_field({"type": "string", "description": "A URL. " + MASKED_URL_HELP})
class MaskedUrlField(serializers.CharField):
    """A URL that may carry credentials: written in clear, read back with them masked."""

    def to_representation(self, value: Any) -> str:
        return mask_url(str(value)) if value else ""


def unmasked_url(stored: str, submitted: str, *, shown: str, field: str, code: str) -> str:
    """The URL to store: the stored one when the client sent back its masked form (`shown`).

    Any other value holding the mask would store bullets in place of a password: `code`.
    """
    if submitted == shown:
        return stored
    if SECRET_MASK in submitted:
        raise ApiError(code, {"field": field})
    return submitted


def remember_url(url: str) -> None:
    """Keep a URL, and each secret inside it, out of this process's log lines."""
    remember(url)
    for secret in url_secrets(url):
        remember(secret)


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
