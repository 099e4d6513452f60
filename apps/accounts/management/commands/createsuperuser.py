"""manage.py createsuperuser: Django's command, audited as `user.create` with source `cli`.

Creating an Admin is the most sensitive thing manage.py does. Django's options,
prompts and DJANGO_SUPERUSER_* variables work as before; `--as` names the acting
account (none may exist yet: then the entry names the Unix user).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.management.commands import createsuperuser
from django.db.models.signals import post_save

from apps.accounts.commands import AuditedCommand
from apps.accounts.models import User
from apps.accounts.services import PASSWORD_SET, user_create_audit


class Command(AuditedCommand, createsuperuser.Command):
    def handle(self, *args: Any, **options: Any) -> None:
        # Django's handle() keeps the account it creates to itself (the name may come
        # from an option, a variable or a prompt); its creation is what tells us.
        created: list[User] = []

        def collect(sender: Any, instance: User, **kwargs: Any) -> None:
            if kwargs.get("created"):
                created.append(instance)

        post_save.connect(collect, sender=User, weak=False, dispatch_uid=id(created))
        try:
            super().handle(*args, **options)
        finally:
            post_save.disconnect(sender=User, dispatch_uid=id(created))
        for user in created:
            # The password itself never reaches the entry: only whether one was set
            # (--noinput without DJANGO_SUPERUSER_PASSWORD makes an unusable one).
            password = {"password": [None, PASSWORD_SET[1]]} if user.has_usable_password() else {}
            user_create_audit(actor=None, user=user, extra_changes=password)
