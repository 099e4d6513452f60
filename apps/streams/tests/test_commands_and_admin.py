from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from apps.streams.models import JobState, StreamJob, StreamRun
from apps.streams.tests.factories import job_with_outputs, running_job

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


def test_commands_are_audited_as_cli_with_the_unix_user() -> None:
    from apps.accounts.commands import unix_user_name
    from apps.accounts.models import AuditEntry

    job = job_with_outputs({}, name="audited")
    call_command("start_stream_job", str(job.pk), stdout=StringIO())
    entry = AuditEntry.objects.get(action="stream_job.start", target_id=str(job.pk))
    assert entry.source == AuditEntry.Source.CLI
    assert entry.actor is None
    assert entry.actor_repr == f"unix:{unix_user_name()}"


def test_commands_are_audited_as_the_account_named_by_as(operator_user: Any) -> None:
    from apps.accounts.models import AuditEntry

    job = job_with_outputs({}, name="audited")
    call_command("start_stream_job", str(job.pk), "--as", "operator", stdout=StringIO())
    call_command("stop_stream_job", str(job.pk), "--as", "operator", stdout=StringIO())
    entries = AuditEntry.objects.filter(target_id=str(job.pk)).order_by("id")
    assert [e.action for e in entries] == ["stream_job.start", "stream_job.stop"]
    assert {(e.source, e.actor_id, e.actor_repr) for e in entries} == {
        (AuditEntry.Source.CLI, operator_user.pk, "operator")
    }


def test_as_must_name_an_active_account() -> None:
    job = job_with_outputs({}, name="audited")
    with pytest.raises(CommandError, match="no active account"):
        call_command("start_stream_job", str(job.pk), "--as", "nobody", stdout=StringIO())
    assert not StreamRun.objects.filter(job=job).exists()


def test_an_api_call_after_a_command_is_audited_as_api(operator_api: Any) -> None:
    from apps.accounts.models import AuditEntry

    job = job_with_outputs({}, name="audited")
    call_command("start_stream_job", str(job.pk), stdout=StringIO())
    call_command("stop_stream_job", str(job.pk), stdout=StringIO())
    assert operator_api.post(f"/api/v1/stream-jobs/{job.pk}/start").status_code == 200
    latest = AuditEntry.objects.filter(action="stream_job.start").latest("id")
    assert latest.source == AuditEntry.Source.API
    assert latest.actor_repr == "operator"


def test_show_refuses_an_unknown_state() -> None:
    with pytest.raises(CommandError, match="invalid choice"):
        call_command("show_stream_jobs", "--state", "bogus", stdout=StringIO())


def test_show_filters_by_the_reported_state_and_shows_lost() -> None:
    lost = running_job(lease_left_s=-1, name="lost one")
    running_job(lease_left_s=60, name="alive one")

    def shown(*args: str) -> list[list[str]]:
        out = StringIO()
        call_command("show_stream_jobs", *args, stdout=out)
        return [line.split() for line in out.getvalue().splitlines()[1:]]

    [row] = shown("--state", "lost")
    assert row[0] == str(lost.pk) and row[1] == "lost" and row[-2:] == ["lost", "one"]
    assert [row[-2:] for row in shown("--state", "running")] == [["alive", "one"]]
    assert {row[-2]: row[1] for row in shown()} == {"lost": "lost", "alive": "running"}


def test_the_admin_shows_and_filters_jobs_and_runs_by_their_reported_state(
    admin_user: Any,
) -> None:
    client = Client()
    client.force_login(admin_user)
    running_job(lease_left_s=-1, name="lost one")
    running_job(lease_left_s=60, name="alive one")

    def rows(url: str) -> str:
        page = client.get(url)
        assert page.status_code == 200
        return page.content.decode()

    jobs = rows("/admin/streams/streamjob/")
    assert '<td class="field-shown_state">lost</td>' in jobs
    assert '<td class="field-shown_state">running</td>' in jobs
    only_lost = rows("/admin/streams/streamjob/?state=lost")
    assert "lost one" in only_lost and "alive one" not in only_lost
    only_running = rows("/admin/streams/streamjob/?state=running")
    assert "alive one" in only_running and "lost one" not in only_running

    runs = rows("/admin/streams/streamrun/?state=lost")
    assert runs.count('<td class="field-shown_state">lost</td>') == 1 and "lost one" in runs
    runs = rows("/admin/streams/streamrun/?state=running")
    assert "alive one" in runs and "lost one" not in runs
