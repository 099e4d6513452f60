"""Chat identities, messages and moderation of live streams."""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


def new_chat_token() -> str:
    return secrets.token_urlsafe(24)


def chat_token_digest(token: str) -> str:
    """The stored form of an anonymous identity's token: a leaked table gives no token away."""
    return hashlib.sha256(token.encode()).hexdigest()


class ChatIdentity(models.Model):
    """Who writes in chat: a signed-in user (`user`) or an anonymous viewer holding a token."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="chat_identity",
    )
    token_digest = models.CharField(max_length=64, blank=True, default="", db_index=True)
    display_name = models.CharField(max_length=64)
    # A hue (0-359), as Owncast's `displayColor`.
    display_color = models.PositiveSmallIntegerField(default=0)
    previous_names = models.JSONField(default=list, blank=True)
    # The address it last connected from: what a ban by address is keyed to.
    last_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "chat identities"
        ordering = ["id"]

    def __str__(self) -> str:
        return self.display_name

    @property
    def is_anonymous(self) -> bool:
        return self.user_id is None


class ChatSettings(models.Model):
    """A live stream's chat rules, changed by its operators and moderators."""

    stream = models.OneToOneField(
        "streams.LiveStream", on_delete=models.CASCADE, related_name="chat_settings"
    )
    # Seconds an identity waits between two messages; 0 is off. Moderators are exempt.
    slow_mode_seconds = models.PositiveIntegerField(default=0)
    signed_in_only = models.BooleanField(default=False)
    # No messages while no publish session is open (reading the backlog still works).
    closed_when_offline = models.BooleanField(default=False)
    # Timeouts and bans also hold the identity's client address, so a new token does not
    # lift them (off for streams whose viewers share an address: a school, a venue).
    ban_by_address = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "chat settings"

    def __str__(self) -> str:
        return f"chat settings of {self.stream_id}"


class ChatModerator(models.Model):
    """A user who moderates one stream's chat, granted by the stream's operators."""

    stream = models.ForeignKey(
        "streams.LiveStream", on_delete=models.CASCADE, related_name="chat_moderators"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_moderations"
    )
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["stream", "user"], name="chat_moderator_once"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} moderates {self.stream_id}"


class MessageKind(models.TextChoices):
    CHAT = "chat"
    SYSTEM = "system"


class ChatMessage(models.Model):
    """One message, stored before it is broadcast; hidden ones stay for moderators."""

    stream = models.ForeignKey(
        "streams.LiveStream", on_delete=models.CASCADE, related_name="chat_messages"
    )
    session = models.ForeignKey(
        "streams.LiveSession", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=8, choices=MessageKind.choices, default=MessageKind.CHAT)
    # Null for system messages.
    author = models.ForeignKey(
        ChatIdentity, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    # The name it was sent under (names change; the message keeps its own).
    author_name = models.CharField(max_length=64, blank=True, default="")
    body = models.TextField()  # plain text as sent (invisible characters stripped)
    body_html = models.TextField()  # rendered by apps.chat.markup, safe to put in a page
    sent_at = models.DateTimeField(default=timezone.now)
    visible = models.BooleanField(default=True)
    hidden_at = models.DateTimeField(null=True, blank=True)
    hidden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # When a moderator last showed it again: a reconnecting client learns of it (BACKLOG).
    shown_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["stream", "id"], name="chat_message_stream_id"),
            models.Index(fields=["author", "sent_at"], name="chat_message_author_sent"),
        ]

    def __str__(self) -> str:
        return f"{self.author_name or self.kind}: {self.body[:40]}"


class BanKind(models.TextChoices):
    TIMEOUT = "timeout"
    BAN = "ban"


class ChatBan(models.Model):
    """A timeout (until a time) or ban (until lifted) of an identity in one stream's chat."""

    stream = models.ForeignKey(
        "streams.LiveStream", on_delete=models.CASCADE, related_name="chat_bans"
    )
    identity = models.ForeignKey(ChatIdentity, on_delete=models.CASCADE, related_name="bans")
    # The identity's address when banned (null when the stream bans by identity only).
    address = models.GenericIPAddressField(null=True, blank=True)
    kind = models.CharField(max_length=8, choices=BanKind.choices)
    reason = models.CharField(max_length=200, blank=True, default="")
    until = models.DateTimeField(null=True, blank=True)  # null: until lifted
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    lifted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["stream", "identity"], name="chat_ban_stream_identity"),
            models.Index(fields=["stream", "address"], name="chat_ban_stream_address"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} of {self.identity_id} in {self.stream_id}"

    @staticmethod
    def active_q(now: object = None) -> Q:
        """Bans in force: not lifted, and not a timeout that ran out."""
        now = now or timezone.now()
        return Q(lifted_at__isnull=True) & (Q(until__isnull=True) | Q(until__gt=now))

    @property
    def is_active(self) -> bool:
        return self.lifted_at is None and (self.until is None or self.until > timezone.now())


class ChatConnection(models.Model):
    """A socket open on a stream's chat now: who is connected, for unique names per stream.

    A row per socket, deleted on disconnect; rows of a web process that died are
    ignored once `seen_at` is older than PRESENCE_STALE_SECONDS (the socket renews it).
    """

    stream = models.ForeignKey("streams.LiveStream", on_delete=models.CASCADE, related_name="+")
    identity = models.ForeignKey(ChatIdentity, on_delete=models.CASCADE, related_name="connections")
    address = models.GenericIPAddressField(null=True, blank=True)
    connected_at = models.DateTimeField(default=timezone.now)
    seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["stream", "seen_at"], name="chat_connection_stream_seen")]

    def __str__(self) -> str:
        return f"{self.identity_id} on {self.stream_id}"
