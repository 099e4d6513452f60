"""Reads of the streams app: which jobs a user may see, in one place."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from apps.accounts.roles import Role, role_at_least
from apps.streams.models import StreamJob


def jobs_visible_to(user: Any) -> QuerySet[StreamJob]:
    """Every role reads every job today; narrow here (not in views) when ownership matters."""
    if not role_at_least(user, Role.VIEWER):
        return StreamJob.objects.none()
    return StreamJob.objects.all()


def may_see_job(user: Any, job_id: int) -> bool:
    return jobs_visible_to(user).filter(pk=job_id).exists()
