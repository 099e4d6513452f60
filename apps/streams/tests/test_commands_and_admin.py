from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from apps.streams.models import JobState, StreamJob, StreamRun
from apps.streams.tests.factories import job_with_outputs

pytestmark = pytest.mark.django_db


def test_start_and_stop_commands_use_the_transitions() -> None:
    job = job_with_outputs({}, name="cmd job")
    out = StringIO()
    call_command("start_stream_job", str(job.pk), stdout=out)
    assert f"job {job.pk} (cmd job): starting" in out.getvalue()
    assert StreamRun.objects.filter(job=job).count() == 1
    call_command("stop_stream_job", str(job.pk), stdout=out)
    assert StreamJob.objects.get(pk=job.pk).state == JobState.STOPPED


def test_an_impossible_transition_fails_the_command() -> None:
    job = job_with_outputs({}, state=JobState.STOPPING)
    with pytest.raises(CommandError):
        call_command("start_stream_job", str(job.pk), stdout=StringIO(), stderr=StringIO())


def test_show_lists_jobs_with_state_and_health() -> None:
    job_with_outputs({}, name="shown")
    out = StringIO()
    call_command("show_stream_jobs", stdout=out)
    assert "stopped" in out.getvalue() and "shown" in out.getvalue()


def test_the_admin_lists_jobs_and_starts_them(admin_user: Any) -> None:
    admin_user.set_password("pw-long-enough-123")
    admin_user.save()
    client = Client()
    client.force_login(admin_user)
    job = job_with_outputs({}, name="admin job")
    page = client.get("/admin/streams/streamjob/")
    assert page.status_code == 200 and b"admin job" in page.content
    response = client.post(
        "/admin/streams/streamjob/", {"action": "start_jobs", "_selected_action": [job.pk]}
    )
    assert response.status_code == 302
    assert StreamJob.objects.get(pk=job.pk).state == JobState.STARTING
