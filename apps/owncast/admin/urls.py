"""Owncast's /api/admin/* routes, included under both bases by apps.owncast.urls.

Paths of Owncast 0.0.10's router and of the 0.0.6 document where they differ (the
disabled users' list, message visibility). Each view's stream is the base's; its
caller holds the stream's key or a token with HAS_ADMIN_ACCESS (admin/base.py).
"""

from typing import Any

from django.urls import path

from apps.owncast.admin import chat, config, integrations, status

urlpatterns: list[Any] = [
    path("status", status.StatusView.as_view(), name="admin-status"),
    path("disconnect", status.DisconnectView.as_view(), name="admin-disconnect"),
    path("serverconfig", config.ServerConfigView.as_view(), name="admin-serverconfig"),
    path("viewersOverTime", status.ViewersOverTimeView.as_view(), name="admin-viewers"),
    path("hardwarestats", status.HardwareStatsView.as_view(), name="admin-hardware"),
    path("logs", status.LogsView.as_view(), name="admin-logs"),
    path("logs/warnings", status.WarningsView.as_view(), name="admin-warnings"),
    path("yp/reset", status.YellowPagesResetView.as_view(), name="admin-yp-reset"),
    path("chat/clients", chat.ChatClientsView.as_view(), name="admin-chat-clients"),
    path("chat/messages", chat.ChatMessagesView.as_view(), name="admin-chat-messages"),
    path(
        "chat/updatemessagevisibility",
        chat.MessageVisibilityView.as_view(),
        name="admin-message-visibility",
    ),
    path(
        "chat/messagevisibility",
        chat.MessageVisibilityView.as_view(),
        name="admin-message-visibility-alias",
    ),
    path("chat/users/setenabled", chat.UserEnabledView.as_view(), name="admin-user-enabled"),
    path("chat/users/disabled", chat.DisabledUsersView.as_view(), name="admin-users-disabled"),
    path("users/disabled", chat.DisabledUsersView.as_view(), name="admin-users-disabled-0.0.6"),
    path("accesstokens", integrations.AccessTokensView.as_view(), name="admin-tokens"),
    path(
        "accesstokens/create",
        integrations.AccessTokenCreateView.as_view(),
        name="admin-token-create",
    ),
    path(
        "accesstokens/delete",
        integrations.AccessTokenDeleteView.as_view(),
        name="admin-token-delete",
    ),
    path("webhooks", integrations.WebhooksView.as_view(), name="admin-webhooks"),
    path("webhooks/create", integrations.WebhookCreateView.as_view(), name="admin-webhook-create"),
    path("webhooks/delete", integrations.WebhookDeleteView.as_view(), name="admin-webhook-delete"),
    *[
        path(
            f"config/{setting}",
            (config.LogoSetterView if setting == "logo" else config.ConfigSetterView).as_view(
                setting=setting
            ),
            name=f"admin-config-{setting.replace('/', '-')}",
        )
        for setting in config.SETTERS
    ],
]
