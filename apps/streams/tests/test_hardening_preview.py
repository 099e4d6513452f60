"""The command preview validates a payload exactly as create does, and records nothing;
every number of a job is bounded."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.accounts.models import AuditEntry
from apps.streams.models import StreamJob
from apps.streams.tests.factories import new_profile

pytestmark = pytest.mark.django_db


def job_body(**fields: Any) -> dict[str, Any]:
    return {
        "name": "preview",
        "input_kind": "test_pattern",
        "profile": new_profile().pk,
        "outputs": [{"kind": "rtmp", "url": "rtmp://127.0.0.1/live", "stream_key": "k-12345678"}],
        **fields,
    }


@pytest.mark.parametrize(
    "fields",
    [
        {"reconnect_base_seconds": 0},
        {"outputs": [{"kind": "rtmp", "url": "http://not-rtmp", "stream_key": "k"}]},
        {"stall_timeout_seconds": 1e308},
        {"input_kind": "file", "input_path": "/etc/passwd"},
    ],
)
def test_preview_refuses_what_create_refuses_with_the_same_error(
    operator_api: APIClient, fields: dict[str, Any]
) -> None:
    created = operator_api.post("/api/v1/stream-jobs", job_body(**fields), format="json")
    previewed = operator_api.post(
        "/api/v1/ffmpeg/preview", {"job": job_body(**fields)}, format="json"
    )
    assert created.status_code == previewed.status_code == 400, previewed.content
    assert previewed.json()["error"] == created.json()["error"]


def test_a_preview_writes_no_audit_entry(operator_api: APIClient) -> None:
    response = operator_api.post("/api/v1/ffmpeg/preview", {"job": job_body()}, format="json")
    assert response.status_code == 200, response.content
    assert not AuditEntry.objects.exists()


@pytest.mark.parametrize(
    "field",
    [
        "reconnect_base_seconds",
        "reconnect_cap_seconds",
        "stall_timeout_seconds",
        "reconnect_max_attempts",
        "input_width",
        "input_height",
        "input_rate",
    ],
)
def test_a_huge_number_is_a_400(operator_api: APIClient, field: str) -> None:
    value: float = 10**9 if field in ("reconnect_max_attempts", "input_width", "input_height",
                                       "input_rate") else 1e308  # fmt: skip
    fields: dict[str, Any] = {field: value}
    if field == "reconnect_base_seconds":
        fields["reconnect_cap_seconds"] = 1e308
    response = operator_api.post("/api/v1/stream-jobs", job_body(**fields), format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    # The engine checks a test pattern's size first (spec.*), the service everything else.
    assert error["code"].endswith(".out_of_range") and error["params"]["field"] == field
    assert not StreamJob.objects.exists()


@pytest.mark.parametrize(
    "fields",
    [{"video_bitrate_kbps": 10**12}, {"fps": 1e308}, {"keyframe_interval_s": 1e308}],
)
def test_a_huge_profile_number_is_a_400(operator_api: APIClient, fields: dict[str, Any]) -> None:
    response = operator_api.post(
        "/api/v1/ffmpeg-profiles", {"name": "huge", **fields}, format="json"
    )
    assert response.status_code == 400, response.content
