from django.apps import AppConfig


class ChatConfig(AppConfig):
    """Chat users, messages and moderation."""

    name = "apps.chat"
    verbose_name = "Chat"
