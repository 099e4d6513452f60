from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    """Access tokens, webhooks, notifications and compatible endpoints."""

    name = "apps.integrations"
    verbose_name = "Integrations"

    def ready(self) -> None:
        from apps.integrations import apprise_http

        # apprise's HTTP connections obey the address policy inside notify's sends.
        apprise_http.install()
