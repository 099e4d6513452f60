from __future__ import annotations

from django.contrib import admin

from apps.chat.models import (
    ChatBan,
    ChatConnection,
    ChatIdentity,
    ChatMessage,
    ChatModerator,
    ChatSettings,
)
from castcore.admin_site import AuditedModelAdmin, ReadOnlyModelAdmin


@admin.register(ChatIdentity)
class ChatIdentityAdmin(AuditedModelAdmin):
    list_display = ["display_name", "user", "display_color", "created_at"]
    search_fields = ["display_name", "user__username"]
    # The token is kept as a digest: nothing to show, nothing to edit.
    exclude = ["token_digest"]
    readonly_fields = ["user", "previous_names", "last_address", "created_at"]


@admin.register(ChatMessage)
class ChatMessageAdmin(AuditedModelAdmin):
    # Hiding goes through the API or the socket, which tell connected clients at once.
    list_display = ["__str__", "stream", "kind", "sent_at", "visible"]
    list_filter = ["kind", "visible"]
    search_fields = ["body", "author_name"]
    readonly_fields = [
        "stream", "session", "kind", "author", "author_name", "body", "body_html", "sent_at",
        "visible", "hidden_at", "hidden_by",
    ]  # fmt: skip

    def has_add_permission(self, request: object) -> bool:
        return False


@admin.register(ChatBan)
class ChatBanAdmin(AuditedModelAdmin):
    list_display = ["identity", "stream", "kind", "until", "created_at", "lifted_at"]
    list_filter = ["kind"]
    readonly_fields = ["stream", "identity", "address", "kind", "until", "created_by", "created_at"]

    def has_add_permission(self, request: object) -> bool:
        return False


@admin.register(ChatModerator)
class ChatModeratorAdmin(AuditedModelAdmin):
    list_display = ["user", "stream", "granted_by", "created_at"]


@admin.register(ChatSettings)
class ChatSettingsAdmin(AuditedModelAdmin):
    list_display = ["stream", "slow_mode_seconds", "signed_in_only", "closed_when_offline"]


@admin.register(ChatConnection)
class ChatConnectionAdmin(ReadOnlyModelAdmin):
    """Who is connected to which chat now (the sockets write and remove these rows)."""

    list_display = ["identity", "stream", "connected_at", "seen_at"]
    list_select_related = ["identity", "stream"]
