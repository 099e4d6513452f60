"""manage.py cleanup_recordings: the retention run of the beat task, on demand."""

from __future__ import annotations

from typing import Any

from apps.accounts.commands import AuditedCommand
from apps.accounts.models import AuditEntry
from apps.recordings.services import recordings_cleanup_unclaimed


class Command(AuditedCommand):
    help = "Hide, then delete (with their files), recordings of CLIs nobody linked to an account."

    def handle(self, *args: Any, **options: Any) -> None:
        report = recordings_cleanup_unclaimed(source=AuditEntry.Source.CLI)
        self.stdout.write(f"Hidden: {len(report.hidden)} recording(s) {report.hidden}")
        self.stdout.write(
            f"Deleted: {len(report.deleted)} recording(s) {report.deleted}, "
            f"{report.freed_bytes} bytes freed"
        )
        self.stdout.write(f"Temporary accounts deleted: {report.temporary_users_deleted}")
