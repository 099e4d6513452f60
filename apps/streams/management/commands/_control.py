from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError

from apps.accounts.commands import AuditedCommand
from apps.streams.models import StreamJob
from castcore.api.errors import ApiError


class ControlCommand(AuditedCommand):
    """Shared body of start_stream_job / stop_stream_job: the same services as the API."""

    verb = ""

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("job_ids", nargs="+", type=int)

    def handle(self, *args: Any, **options: Any) -> None:
        from apps.streams import services

        service = getattr(services, f"stream_job_{self.verb}")
        failed = False
        for job_id in options["job_ids"]:
            job = StreamJob.objects.filter(pk=job_id).first()
            if job is None:
                self.stderr.write(f"job {job_id}: not found")
                failed = True
                continue
            try:
                job = service(actor=None, job=job)
            except ApiError as exc:
                self.stderr.write(f"job {job_id}: {exc.code} {exc.params}")
                failed = True
                continue
            self.stdout.write(f"job {job_id} ({job.name}): {job.state}")
        if failed:
            raise CommandError(f"some jobs could not {self.verb}")
