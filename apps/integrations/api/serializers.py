from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from rest_framework import serializers

from apps.integrations.http import url_problem
from apps.integrations.models import (
    ALL_EVENTS,
    IntegrationToken,
    NotificationTarget,
    Scope,
    Webhook,
    WebhookDelivery,
    WebhookFormat,
)
from apps.integrations.notify import target_url_valid
from apps.integrations.signing import secret_key
from castcore.addresses import address_policy
from castcore.api.errors import ApiError, invalid_choice
from castcore.api.fields import ChoiceField, ModelSerializer, SecretField
from castcore.events import EVENT_TYPES
from workers.ffmpeg.addresses import refusal, refused_address
from workers.ffmpeg.masking import SECRET_MASK

EVENT_CHOICES = [ALL_EVENTS, *EVENT_TYPES]


def _events_field() -> serializers.ListField:
    return serializers.ListField(
        child=ChoiceField(choices=EVENT_CHOICES),
        min_length=1,
        max_length=len(EVENT_CHOICES),
        help_text='event types, or ["*"] for every event',
    )


class WebhookSerializer(ModelSerializer[Webhook]):
    url = serializers.CharField(
        max_length=2000,
        help_text="http(s) URL; shown as its scheme, host and port only (receivers carry tokens "
        "in paths and queries); "
        "sending the masked form back keeps the stored URL",
    )
    events = serializers.ListField(
        child=serializers.CharField(max_length=64),
        min_length=1,
        max_length=len(EVENT_CHOICES),
        help_text='event types, or ["*"] for every event; Owncast\'s names (CHAT, '
        "STREAM_STARTED…) for `format: owncast`",
    )
    format = ChoiceField(choices=WebhookFormat.choices, required=False)
    secret = SecretField(
        required=False,
        help_text="`whsec_` + base64 of 24–64 bytes; generated when left out (shown once)",
    )

    class Meta:
        model = Webhook
        fields = [
            "id", "name", "url", "events", "format", "live_stream", "secret", "active",
            "disabled_reason", "consecutive_failures", "failing_since", "last_success_at",
            "created_at", "updated_at",
        ]  # fmt: skip
        extra_kwargs = {
            "live_stream": {"help_text": "Only the events about this live stream; null: all."},
        }
        read_only_fields = [
            "disabled_reason", "consecutive_failures", "failing_since", "last_success_at",
        ]  # fmt: skip

    def to_representation(self, instance: Webhook) -> dict[str, Any]:
        body = super().to_representation(instance)
        body["url"] = instance.shown_url
        return body

    def validate_url(self, url: str) -> str:
        instance = self.instance
        if isinstance(instance, Webhook) and SECRET_MASK in url and url == instance.shown_url:
            return instance.url  # the masked form sent back: keep the stored URL
        problem = url_problem(url)
        if problem is not None:
            raise serializers.ValidationError(problem, code="webhook.url_invalid")
        check_webhook_address(url)
        return url

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        webhook_format = str(attrs.get("format") or getattr(self.instance, "format", "castcore"))
        events = attrs.get("events")
        if events is not None:
            check_webhook_events(events, webhook_format)
        return attrs

    def validate_secret(self, secret: str) -> str:
        try:
            secret_key(secret)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc), code="webhook.secret_invalid") from None
        return secret


def check_webhook_events(events: list[str], webhook_format: str) -> None:
    """The event names a webhook of that format may subscribe to (400 naming the allowed)."""
    if webhook_format == WebhookFormat.OWNCAST:
        from apps.owncast.webhooks import OWNCAST_EVENT_TYPES

        allowed = [ALL_EVENTS, *OWNCAST_EVENT_TYPES]
    else:
        allowed = EVENT_CHOICES
    for name in events:
        if name not in allowed:
            raise invalid_choice("events", allowed)


def check_webhook_address(url: str) -> None:
    """Refuse a URL whose host the address policy refuses (ApiError, field `url`).

    At save time, for a clear answer; the connection checks again (http.py), as DNS may
    have changed since.
    """
    host = urlsplit(url).hostname or ""
    refused = refused_address(host, address_policy())
    if refused is not None:
        reason = refusal(refused, address_policy()) or "link_local"
        raise ApiError(
            "webhook.address_not_allowed",
            {"field": "url", "host": host, "address": refused, "reason": reason},
        )


class WebhookCreatedSerializer(WebhookSerializer):
    secret = serializers.CharField(  # type: ignore[assignment]
        read_only=True, help_text="The secret, shown only now."
    )


class WebhookDeliverySerializer(ModelSerializer[WebhookDelivery]):
    event_id = serializers.CharField(source="event.message_id", read_only=True)
    event_type = serializers.CharField(source="event.event_type", read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id", "webhook", "event_id", "event_type", "state", "attempts", "next_attempt_at",
            "last_attempt_at", "status_code", "duration_ms", "response_excerpt", "error_code",
            "error_detail", "attempt_log", "created_at",
        ]  # fmt: skip
        read_only_fields = fields


class NotificationTargetSerializer(ModelSerializer[NotificationTarget]):
    url = SecretField(
        help_text="apprise URL (json://, ntfy://, mailto://, discord://, …), or "
        "mailto:alice@example.org,bob@example.org to e-mail through the SMTP settings"
    )
    events = _events_field()

    class Meta:
        model = NotificationTarget
        fields = ["id", "name", "url", "events", "min_level", "active", "created_at", "updated_at"]

    def validate_url(self, url: str) -> str:
        if not target_url_valid(url):
            raise serializers.ValidationError("not an apprise URL", code="notification.url_invalid")
        return url


class NotificationTestSerializer(serializers.Serializer[Any]):
    ok = serializers.BooleanField()
    error_code = serializers.CharField(allow_blank=True)


class IntegrationTokenSerializer(ModelSerializer[IntegrationToken]):
    token = serializers.CharField(source="masked", read_only=True)
    scopes = serializers.ListField(child=ChoiceField(choices=Scope.choices), min_length=1)
    revoked = serializers.SerializerMethodField()

    class Meta:
        model = IntegrationToken
        fields = [
            "id", "name", "token", "scopes", "expires_at", "created_at", "last_used_at",
            "revoked", "revoked_at",
        ]  # fmt: skip
        read_only_fields = ["id", "token", "created_at", "last_used_at", "revoked", "revoked_at"]

    def get_revoked(self, token: IntegrationToken) -> bool:
        return token.revoked_at is not None


class IntegrationTokenCreatedSerializer(IntegrationTokenSerializer):
    token = serializers.CharField(read_only=True, help_text="The full token, shown only now.")
