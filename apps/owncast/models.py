"""What the Owncast surface keeps beside the integrations app's access tokens."""

from __future__ import annotations

from django.db import models


class TokenLink(models.Model):
    """An integration token as Owncast sees it: the stream it may be bound to.

    A token with no link, or an unbound one, works on every stream's base. A bound one
    works on its stream's base only: a token made through a stream's Owncast admin API
    is bound to that stream, since the key holder administers that stream alone. When
    the stream is deleted the link keeps `bound` with no stream: the token works nowhere.
    The token's chat bot is its own (IntegrationToken.chat_identity).
    """

    token = models.OneToOneField(
        "integrations.IntegrationToken", on_delete=models.CASCADE, related_name="owncast_link"
    )
    bound = models.BooleanField(default=False)
    stream = models.ForeignKey(
        "streams.LiveStream",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owncast_token_links",
    )

    def __str__(self) -> str:
        return f"token {self.token_id} on {self.stream_id if self.bound else 'every stream'}"

    def allows(self, stream_id: int) -> bool:
        return not self.bound or self.stream_id == stream_id


class StreamOwncastSettings(models.Model):
    """A stream's Owncast-only settings: what Owncast's config holds and LiveStream does not.

    The rest of Owncast's config is the stream's own (name, title, summary, page content,
    tags, logo, NSFW, social links, key, latency, variants). HTML and CSS are cleaned
    before they are stored (nh3); `extra` keeps the Owncast values CastCore accepts and
    reports but does not act on, by Owncast's setting name.
    """

    stream = models.OneToOneField(
        "streams.LiveStream", on_delete=models.CASCADE, related_name="owncast_settings"
    )
    welcome_message = models.TextField(blank=True, default="")  # sanitised HTML (nh3)
    custom_styles = models.TextField(blank=True, default="")  # CSS, cleaned
    # [{"url", "title", "description", "icon", "color", "openExternally"}]
    external_actions = models.JSONField(default=list, blank=True)
    chat_disabled = models.BooleanField(default=False)
    chat_join_messages = models.BooleanField(default=True)
    extra = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "stream Owncast settings"

    def __str__(self) -> str:
        return f"Owncast settings of {self.stream_id}"


class ClientUserAgent(models.Model):
    """The User-Agent an Owncast chat socket opened with: Owncast's `userAgent` of a client.

    Beside the chat app's connection row, and gone with it when the socket closes.
    """

    MAX_LENGTH = 255  # a header's worth to show, not the whole of a hostile one

    connection = models.OneToOneField(
        "chat.ChatConnection",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="owncast_user_agent",
    )
    user_agent = models.CharField(max_length=MAX_LENGTH, blank=True, default="")

    def __str__(self) -> str:
        return f"{self.connection_id}: {self.user_agent}"
