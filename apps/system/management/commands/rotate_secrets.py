"""manage.py rotate_secrets: re-encrypt every secret at rest with the newest key."""

from __future__ import annotations

from typing import Any

from apps.accounts.commands import AuditedCommand
from apps.system.services import secrets_rotate


class Command(AuditedCommand):
    help = "Re-encrypt all stored secrets with the first key of CASTCORE_FERNET_KEYS."

    def handle(self, *args: Any, **options: Any) -> None:
        rotation = secrets_rotate()
        for label, names in rotation.columns.items():
            self.stdout.write(f"{label}: {', '.join(names)} rotated")
        self.stdout.write(self.style.SUCCESS(f"{rotation.rows} row(s) re-encrypted."))
