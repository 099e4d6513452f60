"""API routes of this app, mounted under /api/v1/ by castcore.urls.

Under /api/v1/live-streams/<id>/chat/: the live stream routes themselves belong
to the streams app; these only extend the path below them.
"""

from typing import Any

from django.urls import path

from apps.chat.api import views

PREFIX = "live-streams/<int:stream_id>/chat/"

urlpatterns: list[Any] = [
    path(f"{PREFIX}messages", views.ChatMessagesView.as_view(), name="chat-messages"),
    path(
        f"{PREFIX}messages/visibility", views.ChatVisibilityView.as_view(), name="chat-visibility"
    ),
    path(f"{PREFIX}identities", views.ChatIdentitiesView.as_view(), name="chat-identities"),
    path(
        f"{PREFIX}identities/<int:identity_id>/ban",
        views.ChatIdentityBanView.as_view(),
        name="chat-identity-ban",
    ),
    path(f"{PREFIX}bans", views.ChatBansView.as_view(), name="chat-bans"),
    path(f"{PREFIX}bans/<int:ban_id>", views.ChatBanDetailView.as_view(), name="chat-ban-detail"),
    path(f"{PREFIX}settings", views.ChatSettingsView.as_view(), name="chat-settings"),
    path(f"{PREFIX}moderators", views.ChatModeratorsView.as_view(), name="chat-moderators"),
    path(
        f"{PREFIX}moderators/<int:user_id>",
        views.ChatModeratorDetailView.as_view(),
        name="chat-moderator-detail",
    ),
    path(f"{PREFIX}send", views.ChatSendView.as_view(), name="chat-send"),
    path(f"{PREFIX}register", views.ChatRegisterView.as_view(), name="chat-register"),
]
