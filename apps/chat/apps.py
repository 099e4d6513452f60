from django.apps import AppConfig


class ChatConfig(AppConfig):
    """Chat users, messages and moderation."""

    name = "apps.chat"
    verbose_name = "Chat"

    def ready(self) -> None:
        from apps.chat import signals

        signals.connect()
