from django.apps import AppConfig


class SystemConfig(AppConfig):
    """Global settings, worker heartbeats, health and metrics."""

    name = "apps.system"
    verbose_name = "System"
