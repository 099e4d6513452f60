"""Events out (webhooks, notifications) and integration access tokens."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit

from django.conf import settings
from django.db import models
from django.utils import timezone

from castcore.outbox.models import EventLevel, OutboxEvent
from castcore.secrets import EncryptedTextField, mask
from workers.ffmpeg.masking import SECRET_MASK

#: Subscribing to this instead of a list of event types means every event.
ALL_EVENTS = "*"


class WebhookFormat(models.TextChoices):
    """The body an event is sent as; the signature headers are the same for both."""

    CASTCORE = "castcore", "CastCore: {type, timestamp, data}"
    OWNCAST = "owncast", "Owncast: {type, eventData} (Owncast's event names)"


def shown_webhook_url(url: str) -> str:
    """Where a webhook points, without what it may carry: scheme, host and port only.

    Receivers put their tokens anywhere (Slack and Discord in path segments, others in
    the query), so nothing after the host is shown: a path or query becomes the mask.
    """
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if ":" in netloc:
        netloc = f"[{netloc}]"
    try:
        port = parts.port
    except ValueError:  # not a port number: shown as if absent, never echoed
        port = None
    if port is not None:
        netloc = f"{netloc}:{port}"
    hidden = (parts.path not in ("", "/")) or parts.query or parts.fragment or parts.username
    return f"{parts.scheme}://{netloc}/{SECRET_MASK if hidden else ''}"


class Webhook(models.Model):
    """An HTTP endpoint that receives signed domain events (Standard Webhooks)."""

    name = models.CharField(max_length=100)
    format = models.CharField(
        max_length=8, choices=WebhookFormat.choices, default=WebhookFormat.CASTCORE
    )
    # Only the events about this stream (their subject is `live_stream:<id>`); null: all.
    # A webhook made through a stream's Owncast API is that stream's.
    live_stream = models.ForeignKey(
        "streams.LiveStream", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    # Encrypted: receivers put tokens in their URLs (`?token=`, a path segment).
    url = EncryptedTextField()
    events = models.JSONField(default=list, help_text='event types, or ["*"] for every event')
    # `whsec_` + base64 of the key bytes, as the Standard Webhooks libraries take it.
    secret = EncryptedTextField()
    active = models.BooleanField(default=True)
    # Why it was switched off automatically ("" while active or switched off by hand).
    disabled_reason = models.CharField(max_length=64, blank=True, editable=False)
    consecutive_failures = models.PositiveIntegerField(default=0, editable=False)
    failing_since = models.DateTimeField(null=True, blank=True, editable=False)
    last_success_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # The API, the admin and the audit log show the URL as this says (castcore.admin_site).
    AUDIT_SHOWN: ClassVar[Mapping[str, Callable[[str], str]]] = {
        "url": shown_webhook_url,
        "secret": mask,
    }

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def shown_url(self) -> str:
        return shown_webhook_url(self.url)

    def wants(
        self, event_type: str, subject: str = "", payload: Mapping[str, Any] | None = None
    ) -> bool:
        """Whether an event of `event_type` about `subject` goes to this webhook.

        An Owncast-format webhook names Owncast's event types (CHAT, STREAM_STARTED…):
        apps.owncast.webhooks says which CastCore event (and payload) is which."""
        if self.live_stream_id is not None and subject != f"live_stream:{self.live_stream_id}":
            return False
        if self.format == WebhookFormat.OWNCAST:
            from apps.owncast.webhooks import owncast_event_type

            owncast_type = owncast_event_type(event_type, payload or {})
            if owncast_type is None:
                return False
            return ALL_EVENTS in self.events or owncast_type in self.events
        return ALL_EVENTS in self.events or event_type in self.events


class DeliveryState(models.TextChoices):
    PENDING = "pending"  # waiting for its next attempt
    SENDING = "sending"  # claimed by a worker until claimed_until
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # gave up: retries ran out, or the endpoint is refused by policy


class WebhookDelivery(models.Model):
    """One event for one webhook: its attempts, its outcome and when it is tried next."""

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey(OutboxEvent, on_delete=models.CASCADE, related_name="+")
    state = models.CharField(
        max_length=10, choices=DeliveryState.choices, default=DeliveryState.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    response_excerpt = models.TextField(blank=True)
    error_code = models.CharField(max_length=64, blank=True)
    error_detail = models.CharField(max_length=500, blank=True)
    # The latest attempts, newest last: {at, status_code, duration_ms, error_code}.
    attempt_log = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.UniqueConstraint(fields=["webhook", "event"], name="one_delivery_per_event")
        ]
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="delivery_due")]

    def __str__(self) -> str:
        return f"{self.event.event_type} → {self.webhook}"


def masked_apprise_url(url: str) -> str:
    """The scheme only, then the mask: apprise URLs carry their tokens anywhere in them."""
    scheme, sep, _rest = url.partition("://")
    return f"{scheme}{sep}{mask(url)}" if sep else mask(url)


class NotificationTarget(models.Model):
    """An apprise URL that is told about the events it subscribes to, from a minimum level."""

    name = models.CharField(max_length=100)
    url = EncryptedTextField(help_text="apprise URL (json://, ntfy://, mailto://, discord://, …)")
    events = models.JSONField(default=list, help_text='event types, or ["*"] for every event')
    min_level = models.CharField(
        max_length=8, choices=EventLevel.choices, default=EventLevel.WARNING
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    AUDIT_SHOWN: ClassVar[Mapping[str, Callable[[str], str]]] = {"url": masked_apprise_url}

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.masked_url})"

    @property
    def masked_url(self) -> str:
        return masked_apprise_url(self.url)

    def wants(self, event_type: str) -> bool:
        return ALL_EVENTS in self.events or event_type in self.events


class MessageState(models.TextChoices):
    PENDING = "pending"
    SENDING = "sending"  # claimed by a worker until claimed_until
    SENT = "sent"
    FAILED = "failed"


class NotificationMessage(models.Model):
    """One message to a target: one event, or a burst of the same event merged into one."""

    target = models.ForeignKey(
        NotificationTarget, on_delete=models.CASCADE, related_name="messages"
    )
    # event type + subject: events with one key inside one window share a message.
    key = models.CharField(max_length=200)
    event_type = models.CharField(max_length=64)
    level = models.CharField(max_length=8, choices=EventLevel.choices)
    count = models.PositiveIntegerField(default=1)
    title = models.CharField(max_length=250)
    body = models.TextField()
    state = models.CharField(max_length=8, choices=MessageState.choices, default="pending")
    send_at = models.DateTimeField(db_index=True)
    # While `sending`: the worker's lease. Another worker takes the message only after it.
    claimed_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    sent_at = models.DateTimeField(null=True, blank=True)
    error_code = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["target", "key", "created_at"], name="notification_key")]

    def __str__(self) -> str:
        return f"{self.title} ×{self.count}"


class Scope(models.TextChoices):
    """What an integration access token may do."""

    CHAT_SEND = "chat.send", "send chat messages"
    CHAT_SYSTEM = "chat.system", "send system messages"
    MODERATE = "chat.moderate", "moderate chat"
    READ = "read", "read"
    STREAM_ADMIN = "stream.admin", "administer a stream"


#: The prefix of integration access tokens (personal API tokens are `cc_…`).
INTEGRATION_TOKEN_PREFIX = "cci_"  # noqa: S105 (a prefix, not a secret)


class IntegrationToken(models.Model):
    """An access token for a bot or a service that belongs to no person; only its hash is kept."""

    name = models.CharField(max_length=100)
    scopes = models.JSONField(default=list)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    last4 = models.CharField(max_length=4, editable=False)
    # The value itself, encrypted, for tokens made through a stream's Owncast admin API only:
    # Owncast lists its tokens in clear, and that API does so to the stream's key holder
    # (the trust that made the token). "" for every other token: the hash alone is kept.
    kept_value = EncryptedTextField(blank=True, default="", editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Who the token writes as in chat (chat.send), made on its first message.
    chat_identity = models.OneToOneField(
        "chat.ChatIdentity",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.masked})"

    @property
    def masked(self) -> str:
        return INTEGRATION_TOKEN_PREFIX + mask("x" * 8 + self.last4)

    def is_usable(self, now: datetime | None = None) -> bool:
        now = now or timezone.now()
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > now

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes


# Defined in their own module, registered with this app by being imported here.
from apps.integrations.platforms.models import PlatformAccount, PlatformMetadata  # noqa: E402

__all__ = ["PlatformAccount", "PlatformMetadata"]
