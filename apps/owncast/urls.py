"""Owncast's HTTP paths under each base, mounted by castcore.urls.

- `/owncast/<slug>/api/…`: every live stream's own base;
- `/api/…`: the host root, the default stream's (settings.OWNCAST_DEFAULT_STREAM).
The root's paths are Owncast's exact paths, listed here, ahead of the native catch-all
for /api/ (castcore.urls): they share nothing with /api/v1/, the asciinema paths
(/api/asciicasts) or OpenVidu's /openvidu/api/. Any other path under /owncast/ is
Owncast's plain-text 404.
"""

from typing import Any

from django.urls import include, path, re_path

from apps.owncast import responses
from apps.owncast.views import chat, integrations, public

app_name = "owncast"

integration_patterns: list[Any] = [
    path("streamtitle", integrations.StreamTitleView.as_view(), name="streamtitle"),
    path("chat/send", integrations.ChatSendView.as_view(), name="chat-send"),
    # Owncast 0.0.6's (the older API document's) message under a name.
    path("chat/user", integrations.ChatUserMessageView.as_view(), name="chat-user"),
    path("chat/system", integrations.ChatSystemView.as_view(), name="chat-system"),
    path(
        "chat/system/client/<str:client_id>",
        integrations.ChatSystemToClientView.as_view(),
        name="chat-system-client",
    ),
    path("chat/action", integrations.ChatActionView.as_view(), name="chat-action"),
    # The 0.0.10 router's path, and the API document's.
    path(
        "chat/messagevisibility",
        integrations.MessageVisibilityView.as_view(),
        name="chat-messagevisibility",
    ),
    path(
        "chat/updatemessagevisibility",
        integrations.MessageVisibilityView.as_view(),
        name="chat-updatemessagevisibility",
    ),
    path("chat/users/setenabled", integrations.UserEnabledView.as_view(), name="user-enabled"),
    path("clients", integrations.ClientsView.as_view(), name="clients"),
    path("chat", integrations.ChatHistoryView.as_view(), name="chat-history"),
]

api_patterns: list[Any] = [
    path("status", public.StatusView.as_view(), name="status"),
    path("config", public.ConfigView.as_view(), name="config"),
    path("ping", public.PingView.as_view(), name="ping"),
    path("yp", public.YellowPagesView.as_view(), name="yp"),
    path("emoji", public.EmojiView.as_view(), name="emoji"),
    path("chat/register", chat.RegisterView.as_view(), name="chat-register"),
    path("chat", chat.ChatMessagesView.as_view(), name="chat"),
    path("integrations/", include(integration_patterns)),
    path("admin/", include("apps.owncast.admin.urls")),
]

# Under each stream's base, and at the root for the default stream: reverse with the
# namespace `owncast` (kwargs={"slug": …}) or `owncast-default`.
stream_patterns: list[Any] = [
    path("owncast/<slug:slug>/api/", include((api_patterns, app_name), namespace="owncast")),
    path("owncast/<slug:slug>/logo", public.logo, name="owncast-logo"),
    path(
        "owncast/<slug:slug>/img/emoji/<str:name>.svg",
        public.emoji_image,
        name="owncast-emoji-image",
    ),
    re_path(r"^owncast/", responses.owncast_not_found),
]
root_patterns: list[Any] = [
    path("api/", include((api_patterns, app_name), namespace="owncast-default")),
    path("logo", public.logo, name="owncast-default-logo"),
    path("img/emoji/<str:name>.svg", public.emoji_image, name="owncast-default-emoji-image"),
]
