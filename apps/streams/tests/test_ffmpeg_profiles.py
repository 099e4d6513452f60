from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from apps.streams.models import FFmpegProfile
from apps.streams.tests.factories import ProfileFactory, job_with_outputs, new_profile

pytestmark = pytest.mark.django_db


def test_an_operator_creates_a_profile(operator_api: APIClient) -> None:
    body = {
        "name": "720p",
        "video_codec": "libx264",
        "preset": "veryfast",
        "width": 1280,
        "height": 720,
    }
    response = operator_api.post("/api/v1/ffmpeg-profiles", body, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["width"] == 1280
    assert FFmpegProfile.objects.get(name="720p").created_by is not None


def test_a_bad_combination_is_a_400_with_the_engine_code(operator_api: APIClient) -> None:
    body = {"name": "crf", "rate_control": "crf", "crf": None}
    response = operator_api.post("/api/v1/ffmpeg-profiles", body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "spec.crf_required"
    assert not FFmpegProfile.objects.filter(name="crf").exists()


def test_a_preset_of_another_encoder_is_refused(operator_api: APIClient) -> None:
    body = {"name": "p", "video_codec": "libx264", "preset": "p4"}
    response = operator_api.post("/api/v1/ffmpeg-profiles", body, format="json")
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "spec.invalid_preset",
        "params": {"codec": "libx264", "value": "p4"},
        "level": "error",
    }


def test_an_odd_width_is_refused(operator_api: APIClient) -> None:
    response = operator_api.post(
        "/api/v1/ffmpeg-profiles", {"name": "odd", "width": 641}, format="json"
    )
    assert response.json()["error"]["code"] == "spec.odd_dimension"


def test_an_update_is_validated_too(operator_api: APIClient) -> None:
    profile = new_profile()
    response = operator_api.patch(
        f"/api/v1/ffmpeg-profiles/{profile.pk}", {"audio_sample_rate": 12345}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "spec.invalid_sample_rate"
    profile.refresh_from_db()
    assert profile.audio_sample_rate == 44100


def test_a_profile_in_use_cannot_be_deleted(operator_api: APIClient) -> None:
    job = job_with_outputs({})
    response = operator_api.delete(f"/api/v1/ffmpeg-profiles/{job.profile_id}")
    assert response.status_code == 409
    assert response.json()["error"] == {
        "code": "ffmpeg_profile.in_use",
        "params": {"jobs": 1},
        "level": "error",
    }


def test_names_are_unique(operator_api: APIClient) -> None:
    ProfileFactory(name="Same")
    response = operator_api.post("/api/v1/ffmpeg-profiles", {"name": "same"}, format="json")
    assert response.status_code == 409


def test_a_viewer_reads_but_cannot_write(viewer_api: APIClient) -> None:
    ProfileFactory()
    assert viewer_api.get("/api/v1/ffmpeg-profiles").json()["total"] == 1
    assert (
        viewer_api.post("/api/v1/ffmpeg-profiles", {"name": "x"}, format="json").status_code == 403
    )
