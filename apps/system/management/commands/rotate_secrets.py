"""Re-encrypt every secret at rest with the newest key of CASTCORE_FERNET_KEYS."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction
from django.db.models import F, TextField, Value
from django.db.models.functions import Cast

from castcore.secrets import EncryptedTextField, rotate


class Command(BaseCommand):
    help = "Re-encrypt all stored secrets with the first key of CASTCORE_FERNET_KEYS."

    def handle(self, *args: Any, **options: Any) -> None:
        total = 0
        for model in apps.get_models():
            fields = [f for f in model._meta.get_fields() if isinstance(f, EncryptedTextField)]
            if not fields:
                continue
            names = [f.attname for f in fields]
            # Cast to a plain TextField so from_db_value does not decrypt: we
            # rotate ciphertext without ever holding the secrets in clear.
            raw = {f"raw_{n}": Cast(F(n), output_field=TextField()) for n in names}
            rows = model._default_manager.annotate(**raw).values_list("pk", *raw)
            with transaction.atomic():
                for pk, *tokens in list(rows):
                    updates = {n: rotate(t) for n, t in zip(names, tokens, strict=True) if t}
                    if updates:
                        model._default_manager.filter(pk=pk).update(**_raw(updates))
                        total += 1
            self.stdout.write(f"{model._meta.label}: {', '.join(names)} rotated")
        self.stdout.write(self.style.SUCCESS(f"{total} row(s) re-encrypted."))


def _raw(updates: dict[str, str]) -> dict[str, Any]:
    # update() would run get_prep_value and encrypt the ciphertext again.
    return {name: Value(token, output_field=TextField()) for name, token in updates.items()}
