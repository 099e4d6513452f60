"""Preflight and dry-run requests: a pending report row, then the worker task on commit."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import HttpRequest

from apps.accounts.audit import audit_record
from apps.streams.models import ReportKind, StreamJob, StreamReport
from workers import preflight


def _dispatch(report: StreamReport) -> None:
    def send() -> None:
        task = (
            preflight.run_preflight
            if report.kind == ReportKind.PREFLIGHT
            else preflight.run_dry_run
        )
        task.delay(report.pk)

    transaction.on_commit(send)


@transaction.atomic
def stream_report_request(
    *, actor: Any, job: StreamJob, kind: str, request: HttpRequest | None = None
) -> StreamReport:
    report = StreamReport.objects.create(
        job=job,
        kind=ReportKind(kind),
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    audit_record(
        actor=actor,
        action=f"stream_job.{report.kind}",
        target=job,
        changes={"report": [None, report.pk]},
        request=request,
    )
    _dispatch(report)
    return report
