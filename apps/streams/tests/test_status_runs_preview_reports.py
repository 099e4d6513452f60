from __future__ import annotations

import pytest
from django.test import TestCase
from rest_framework.test import APIClient

from apps.streams.models import JobState, ReportState, RunState, StreamReport, StreamRun
from apps.streams.tests.factories import job_with_outputs, new_profile

pytestmark = pytest.mark.django_db

KEY = "live_1234567890_secretkey"


def test_status_of_a_running_job_has_figures_and_health(viewer_api: APIClient) -> None:
    job = job_with_outputs({}, state=JobState.RUNNING, desired_state="running", fencing_token=1)
    stats = {
        "fps": 25.0,
        "bitrate_kbps": 360.0,
        "speed": 1.0,
        "frames": 500,
        "drops": 0,
        "out_time_s": 20.0,
    }
    StreamRun.objects.create(
        job=job, number=1, fencing_token=1, state=RunState.RUNNING, last_stats=stats
    )
    body = viewer_api.get(f"/api/v1/stream-jobs/{job.pk}/status").json()
    assert body["state"] == "running" and body["fps"] == 25.0 and body["reconnects"] == 0
    assert body["health"] > 80


@pytest.mark.parametrize(("source", "health"), [("encoder", 100), ("muxer", 98)])
def test_health_holds_a_bitrate_to_the_target_of_what_its_source_counts(
    viewer_api: APIClient, source: str, health: int
) -> None:
    # The profile asks 300k video + 64k audio. The video encoder's figure counts no audio:
    # 300 is all of its target; ffmpeg's own figure for its output (muxer) counts both.
    job = job_with_outputs({}, state=JobState.RUNNING, desired_state="running", fencing_token=1)
    stats = {"fps": 25.0, "bitrate_kbps": 300.0, "bitrate_source": source, "speed": 1.0,
             "frames": 500, "drops": 0, "out_time_s": 20.0}  # fmt: skip
    StreamRun.objects.create(
        job=job, number=1, fencing_token=1, state=RunState.RUNNING, last_stats=stats
    )
    assert viewer_api.get(f"/api/v1/stream-jobs/{job.pk}/status").json()["health"] == health


def test_status_of_a_stopped_job_is_zero_health(viewer_api: APIClient) -> None:
    job = job_with_outputs({})
    body = viewer_api.get(f"/api/v1/stream-jobs/{job.pk}/status").json()
    assert body["state"] == "stopped" and body["health"] == 0 and body["fps"] is None


def test_runs_list_exit_reason_and_log_tail(viewer_api: APIClient) -> None:
    job = job_with_outputs({})
    tail = [
        {
            "level": "error",
            "line": "[error] x",
            "hint_code": "ffmpeg.connection_refused",
            "hint": "h",
        }
    ]
    StreamRun.objects.create(
        job=job,
        number=1,
        fencing_token=1,
        state=RunState.ENDED,
        exit_reason="failed",
        log_tail=tail,
    )
    body = viewer_api.get(f"/api/v1/stream-jobs/{job.pk}/runs").json()
    assert body["total"] == 1 and body["items"][0]["exit_reason"] == "failed"
    assert body["items"][0]["log_tail"] == tail


def test_preview_of_a_saved_job_masks_the_key(operator_api: APIClient) -> None:
    job = job_with_outputs({"url": "rtmp://a.rtmp.youtube.com/live2", "stream_key": KEY})
    response = operator_api.post("/api/v1/ffmpeg/preview", {"job_id": job.pk}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert KEY not in response.content.decode()
    assert (
        body["argv"][0] == "ffmpeg" and "rtmp://a.rtmp.youtube.com/live2/••••tkey" in body["argv"]
    )
    assert "preview.keyframe_interval" in {w["code"] for w in body["warnings"]}


def test_preview_of_a_payload_needs_no_saved_job(operator_api: APIClient) -> None:
    payload = {
        "name": "p", "input_kind": "test_pattern", "profile": new_profile().pk,
        "outputs": [{"kind": "udp", "url": "udp://127.0.0.1:9000"}],
    }  # fmt: skip
    response = operator_api.post("/api/v1/ffmpeg/preview", {"job": payload}, format="json")
    assert response.status_code == 200, response.content
    assert "udp://127.0.0.1:9000" in response.json()["argv"]


def test_preview_needs_exactly_one_of_job_and_job_id(operator_api: APIClient) -> None:
    response = operator_api.post("/api/v1/ffmpeg/preview", {}, format="json")
    assert (
        response.status_code == 400
        and response.json()["error"]["code"] == "validation.one_required"
    )


def test_preflight_creates_a_pending_report(operator_api: APIClient, viewer_api: APIClient) -> None:
    job = job_with_outputs({})
    with TestCase.captureOnCommitCallbacks(execute=False):
        response = operator_api.post(f"/api/v1/stream-jobs/{job.pk}/preflight")
    assert response.status_code == 202
    body = response.json()
    assert body["kind"] == "preflight" and body["state"] == ReportState.PENDING
    assert body["events_url"] == f"/api/v1/sse/preflight/{body['id']}"
    assert viewer_api.get(f"/api/v1/stream-reports/{body['id']}").json()["id"] == body["id"]
    with TestCase.captureOnCommitCallbacks(execute=False):
        dry = operator_api.post(f"/api/v1/stream-jobs/{job.pk}/dry-run")
    assert dry.status_code == 202 and dry.json()["kind"] == "dry_run"
    assert StreamReport.objects.filter(job=job).count() == 2
