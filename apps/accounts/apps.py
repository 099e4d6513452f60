from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Users, roles, API tokens, CLI install IDs, 2FA, preferences and the audit log."""

    name = "apps.accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from axes.signals import user_locked_out

        from apps.accounts.lockout import announce_lockout

        user_locked_out.connect(announce_lockout, dispatch_uid="castcore.announce_lockout")
