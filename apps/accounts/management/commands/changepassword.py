"""manage.py changepassword: Django's command, audited as `user.password_change` (`cli`)."""

from __future__ import annotations

import getpass
from typing import Any

from django.contrib.auth.management.commands import changepassword

from apps.accounts.commands import AuditedCommand
from apps.accounts.models import User
from apps.accounts.services import user_password_change_audit


class Command(AuditedCommand, changepassword.Command):
    def handle(self, *args: Any, **options: Any) -> str | None:
        result = super().handle(*args, **options)
        # Django's rule for whose password it was; it returns only after saving it
        # (too many failed attempts end in a CommandError, and no entry).
        username = options["username"] or getpass.getuser()
        user = User._default_manager.db_manager(options["database"]).get_by_natural_key(username)
        user_password_change_audit(actor=None, user=user)
        return result
