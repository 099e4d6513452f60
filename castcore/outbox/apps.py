from django.apps import AppConfig


class OutboxConfig(AppConfig):
    """Domain events waiting to leave CastCore (webhooks, notifications)."""

    name = "castcore.outbox"
    label = "outbox"
    verbose_name = "Outbox"
