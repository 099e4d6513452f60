from __future__ import annotations

import os
from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.accounts.models import AuditEntry
from apps.streams import conf
from apps.streams.models import JobState, StreamJob
from apps.streams.tests.factories import job_with_outputs, new_profile

pytestmark = pytest.mark.django_db

KEY = "live_1234567890_secretkey"


def payload(**overrides: Any) -> dict[str, Any]:
    body = {
        "name": "Studio A",
        "input_kind": "test_pattern",
        "profile": new_profile().pk,
        "outputs": [
            {
                "name": "yt",
                "kind": "rtmp",
                "url": "rtmp://a.rtmp.youtube.com/live2",
                "stream_key": KEY,
            },
            {"name": "hls", "kind": "hls", "url": f"{conf.output_roots()[0]}/hls/studio-a"},
        ],
    }
    body.update(overrides)
    return body


def test_it_creates_a_job_with_outputs_and_masks_the_key(operator_api: APIClient) -> None:
    response = operator_api.post("/api/v1/stream-jobs", payload(), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["state"] == "stopped" and body["desired_state"] == "stopped"
    assert [o["kind"] for o in body["outputs"]] == ["rtmp", "hls"]
    assert body["outputs"][0]["stream_key"] == "••••tkey"
    assert KEY not in response.content.decode()
    job = StreamJob.objects.get(pk=body["id"])
    assert job.outputs.get(kind="rtmp").stream_key == KEY
    assert KEY not in str(list(AuditEntry.objects.values_list("changes", flat=True)))


def test_a_bad_output_url_names_the_output(operator_api: APIClient) -> None:
    body = payload(outputs=[{"kind": "rtmp", "url": "http://not-rtmp", "stream_key": "k"}])
    response = operator_api.post("/api/v1/stream-jobs", body, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "spec.invalid_url" and error["params"]["field"] == "outputs.0.url"
    assert not StreamJob.objects.exists()


def test_a_job_needs_an_output(operator_api: APIClient) -> None:
    response = operator_api.post("/api/v1/stream-jobs", payload(outputs=[]), format="json")
    assert response.status_code == 400
    assert response.json()["error"]["params"]["field"] == "outputs"


def test_a_relative_file_input_is_refused(operator_api: APIClient) -> None:
    response = operator_api.post(
        "/api/v1/stream-jobs", payload(input_kind="file", input_path="media/a.mp4"), format="json"
    )
    error = response.json()["error"]
    assert error["code"] == "stream_job.path_not_allowed"
    assert error["params"]["reason"] == "not_absolute"


def test_a_file_output_outside_the_roots_names_the_allowed_roots(
    operator_api: APIClient, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(conf, "OUTPUT_ROOTS", (str(tmp_path / "out"),))
    outputs = [{"kind": "file", "url": str(tmp_path / "elsewhere.mp4"), "container": "mp4"}]
    response = operator_api.post("/api/v1/stream-jobs", payload(outputs=outputs), format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert (error["code"], error["params"]["reason"]) == (
        "stream_job.path_not_allowed",
        "outside_roots",
    )
    assert error["params"]["allowed_roots"] == [
        os.path.realpath(root) for root in conf.output_roots()
    ]


def test_an_rtmp_output_without_a_stream_key_says_so(operator_api: APIClient) -> None:
    outputs = [{"kind": "rtmp", "url": "rtmp://127.0.0.1:1935/live", "stream_key": ""}]
    response = operator_api.post("/api/v1/stream-jobs", payload(outputs=outputs), format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert (error["code"], error["params"]["field"]) == (
        "validation.required",
        "outputs.0.stream_key",
    )


def test_a_url_password_is_masked_on_read(operator_api: APIClient) -> None:
    body = payload(input_kind="url", input_url="rtmp://user:hunter2hunter2@ingest.example/live/x")
    response = operator_api.post("/api/v1/stream-jobs", body, format="json")
    assert response.status_code == 201, response.content
    assert "hunter2hunter2" not in response.content.decode()
    assert StreamJob.objects.get().input_url.endswith("@ingest.example/live/x")


def test_an_update_that_names_an_output_keeps_its_key(operator_api: APIClient) -> None:
    job = job_with_outputs({"url": "rtmp://h/live", "stream_key": KEY})
    output = job.outputs.get()
    response = operator_api.patch(
        f"/api/v1/stream-jobs/{job.pk}",
        {"outputs": [{"id": output.pk, "kind": "rtmp", "url": "rtmp://other/live"}]},
        format="json",
    )
    assert response.status_code == 200, response.content
    new = job.outputs.get()
    assert new.url == "rtmp://other/live" and new.stream_key == KEY


def test_a_running_job_cannot_be_deleted(operator_api: APIClient) -> None:
    job = job_with_outputs({}, state=JobState.RUNNING, desired_state="running")
    response = operator_api.delete(f"/api/v1/stream-jobs/{job.pk}")
    assert response.status_code == 409
    assert response.json()["error"] == {
        "code": "stream_job.running",
        "params": {"state": "running"},
        "level": "error",
    }
    assert StreamJob.objects.filter(pk=job.pk).exists()


def test_a_stopped_job_is_deleted_with_its_outputs(operator_api: APIClient) -> None:
    job = job_with_outputs({})
    assert operator_api.delete(f"/api/v1/stream-jobs/{job.pk}").status_code == 204
    assert not StreamJob.objects.exists()


def test_duplicate_copies_settings_and_outputs_but_not_state(operator_api: APIClient) -> None:
    job = job_with_outputs(
        {"stream_key": KEY}, {"kind": "udp", "url": "udp://127.0.0.1:9000"}, autostart=True
    )
    response = operator_api.post(f"/api/v1/stream-jobs/{job.pk}/duplicate", {}, format="json")
    assert response.status_code == 201, response.content
    copy = StreamJob.objects.get(pk=response.json()["id"])
    assert (
        copy.name == f"{job.name} (copy)" and copy.state == JobState.STOPPED and not copy.autostart
    )
    assert [o.kind for o in copy.outputs.all()] == ["rtmp", "udp"]
    assert copy.outputs.first().stream_key == KEY  # type: ignore[union-attr]


def test_the_list_is_paginated_and_filterable(viewer_api: APIClient) -> None:
    job_with_outputs({}, name="alpha")
    job_with_outputs({}, name="beta", state=JobState.FAILED)
    body = viewer_api.get("/api/v1/stream-jobs?state=failed").json()
    assert body["total"] == 1 and body["items"][0]["name"] == "beta"


def test_a_detail_route_is_not_filtered(operator_api: APIClient) -> None:
    # Filters narrow lists; on a detail route a stray parameter used to make a 404.
    job = job_with_outputs({}, name="alpha")  # stopped
    assert operator_api.get(f"/api/v1/stream-jobs/{job.pk}?state=failed").status_code == 200
    response = operator_api.post(f"/api/v1/stream-jobs/{job.pk}/stop?state=failed")
    assert response.status_code == 200, response.content


def test_a_viewer_cannot_create(viewer_api: APIClient) -> None:
    assert viewer_api.post("/api/v1/stream-jobs", payload(), format="json").status_code == 403


def test_an_unknown_input_kind_names_the_kinds_there_are(operator_api: APIClient) -> None:
    response = operator_api.post(
        "/api/v1/stream-jobs", payload(input_kind="carrier-pigeon"), format="json"
    )
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert (error["code"], error["params"]["field"]) == ("validation.invalid_choice", "input_kind")
    assert "test_pattern" in error["params"]["allowed"] and "file" in error["params"]["allowed"]


def test_an_unknown_state_filter_names_the_states_there_are(viewer_api: APIClient) -> None:
    response = viewer_api.get("/api/v1/stream-jobs?state=bogus")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert (error["code"], error["params"]["field"]) == ("validation.invalid_choice", "state")
    assert {"running", "stopped", "lost"} <= set(error["params"]["allowed"])
