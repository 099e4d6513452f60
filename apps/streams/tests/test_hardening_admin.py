"""The admin writes through the services: engine and path checks, audit entries, no delete
of a running job; outputs are read-only there and their URLs masked."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.admin.sites import site
from django.test import Client, RequestFactory

from apps.accounts.models import AuditEntry
from apps.streams.models import JobState, StreamJob, StreamOutput
from apps.streams.tests.factories import job_with_outputs

pytestmark = pytest.mark.django_db

SRT = "srt://h:9000?passphrase=SrtPassInUrl123&streamid=sid-secret-999"


@pytest.fixture
def client(admin_user: Any) -> Client:
    admin_user.is_staff = admin_user.is_superuser = True
    admin_user.save()
    client = Client()
    client.force_login(admin_user)
    return client


def change_data(job: StreamJob, admin_user: Any, **changes: Any) -> dict[str, Any]:
    """What the change form posts: every field as it is, plus `changes`."""
    model_admin = site._registry[StreamJob]
    request = RequestFactory().get("/")
    request.user = admin_user
    form = model_admin.get_form(request, job, change=True)(instance=job)
    data = {name: form[name].value() for name in form.fields}
    data = {k: ("on" if v is True else "" if v in (None, False) else v) for k, v in data.items()}
    outputs = list(job.outputs.all())
    data.update({"outputs-TOTAL_FORMS": len(outputs), "outputs-INITIAL_FORMS": len(outputs),
                 "outputs-MIN_NUM_FORMS": 0, "outputs-MAX_NUM_FORMS": 1000})  # fmt: skip
    for index, output in enumerate(outputs):
        data[f"outputs-{index}-id"] = output.pk
        data[f"outputs-{index}-job"] = job.pk
    data.update(changes)
    return data


def test_the_change_page_shows_output_urls_masked(client: Client) -> None:
    job = job_with_outputs({"kind": "srt", "url": SRT, "stream_key": ""})
    page = client.get(f"/admin/streams/streamjob/{job.pk}/change/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "SrtPassInUrl123" not in text and "sid-secret-999" not in text
    assert "passphrase=••••l123" in text


def test_an_admin_edit_is_validated_by_the_engine_and_the_path_policy(
    client: Client, admin_user: Any
) -> None:
    job = job_with_outputs({})
    for code, changes in (
        ("stream_job.path_not_allowed", {"input_kind": "file", "input_path": "/etc/passwd"}),
        ("stream_job.invalid_backoff", {"reconnect_base_seconds": "0"}),
        ("validation.out_of_range", {"stall_timeout_seconds": "1e308"}),
    ):
        response = client.post(
            f"/admin/streams/streamjob/{job.pk}/change/", change_data(job, admin_user, **changes)
        )
        assert response.status_code == 200 and code in response.content.decode(), changes
        job.refresh_from_db()
        assert job.input_kind == "test_pattern" and job.reconnect_base_seconds == 0.2


def test_an_admin_edit_is_saved_and_audited_by_the_service(client: Client, admin_user: Any) -> None:
    job = job_with_outputs({})
    response = client.post(
        f"/admin/streams/streamjob/{job.pk}/change/", change_data(job, admin_user, name="renamed")
    )
    assert response.status_code == 302, response.content[:2000]
    assert StreamJob.objects.get(pk=job.pk).name == "renamed"
    entry = AuditEntry.objects.get(action="stream_job.update")
    assert entry.changes["name"][1] == "renamed"


def test_outputs_cannot_be_changed_in_the_admin(client: Client, admin_user: Any) -> None:
    job = job_with_outputs({"url": "rtmp://127.0.0.1/live"})
    output = job.outputs.get()
    data = change_data(
        job, admin_user, **{"outputs-0-url": "/tmp/evil.mkv", "outputs-0-kind": "file"}
    )
    client.post(f"/admin/streams/streamjob/{job.pk}/change/", data)
    assert StreamOutput.objects.get(pk=output.pk).url == "rtmp://127.0.0.1/live"
    assert client.get("/admin/streams/streamjob/add/").status_code == 403


def test_a_running_job_cannot_be_deleted_from_the_admin(client: Client) -> None:
    job = job_with_outputs({})
    StreamJob.objects.filter(pk=job.pk).update(state=JobState.RUNNING)
    assert (
        client.post(f"/admin/streams/streamjob/{job.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    client.post(
        "/admin/streams/streamjob/",
        {"action": "delete_selected", "_selected_action": [job.pk], "post": "yes"},
    )
    assert StreamJob.objects.filter(pk=job.pk).exists()
    StreamJob.objects.filter(pk=job.pk).update(state=JobState.STOPPED)
    client.post(f"/admin/streams/streamjob/{job.pk}/delete/", {"post": "yes"})
    assert not StreamJob.objects.filter(pk=job.pk).exists()
    assert AuditEntry.objects.filter(action="stream_job.delete").count() == 1
