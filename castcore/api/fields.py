"""Serializer fields shared by every app."""

from __future__ import annotations

from datetime import UTC, datetime
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


class BoundedDateTimeField(serializers.DateTimeField):
    """A date-time between 2000 and 2200 (UTC), else 400 `validation.out_of_range`.

    Python's datetime ends at year 9999: an instant near either end overflows as soon as
    it is moved to another zone or has an hour added (a playout window, a re-air's end,
    a recurrence walk), which was a 500. No schedule, guide or re-air needs more.
    """

    EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
    LATEST = datetime(2200, 1, 1, tzinfo=UTC)
    default_error_messages = {
        "out_of_range": "Must be between 2000-01-01 and 2200-01-01 (UTC).",
    }

    def to_internal_value(self, value: Any) -> datetime:
        moment: datetime = super().to_internal_value(value)
        # A naive value (read later in some zone) is compared as if UTC: the bounds
        # leave centuries of margin either way.
        aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
        if not self.EARLIEST <= aware < self.LATEST:
            self.fail("out_of_range")
        return moment

    def fail(self, key: str, **kwargs: Any) -> Any:
        # DRF's own "overflow" (an instant it could not move to UTC) is the same refusal.
        return super().fail("out_of_range" if key == "overflow" else key, **kwargs)


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
