from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    """Access tokens, webhooks, notifications and compatible endpoints."""

    name = "apps.integrations"
    verbose_name = "Integrations"
