from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Users, roles, API tokens, CLI install IDs, 2FA, preferences and the audit log."""

    name = "apps.accounts"
    verbose_name = "Accounts"
