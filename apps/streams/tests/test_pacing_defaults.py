"""Jobs read files, folders, library items and test patterns at their native rate by default."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from apps.media.tests.factories import make_item, make_s3_source
from apps.media.tests.storage_servers import S3Server, media_dir, s3_server  # noqa: F401
from apps.recordings.models import Recording
from apps.streams.models import ExitReason, StreamJob
from apps.streams.preview import preview
from apps.streams.services import stream_job_start, stream_job_stop
from apps.streams.specs import job_spec_for
from apps.streams.tests.factories import job_with_outputs, new_profile
from apps.streams.tests.helpers import run_row, start_supervised, wait_until

pytestmark = pytest.mark.django_db

RTMP = {"kind": "rtmp", "url": "rtmp://127.0.0.1/live", "stream_key": "k-12345678"}


def job_body(*outputs: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "name": "pacing",
        "input_kind": "test_pattern",
        "profile": new_profile().pk,
        "outputs": list(outputs or [RTMP]),
        **fields,
    }


def paced(argv: list[str]) -> bool:
    return "-re" in argv[: argv.index("-i")]


def test_a_job_created_without_saying_reads_its_input_at_its_native_rate(
    operator_api: APIClient,
) -> None:
    response = operator_api.post("/api/v1/stream-jobs", job_body(), format="json")
    assert response.status_code == 201, response.content
    assert response.json()["realtime"] is True
    job = StreamJob.objects.get(pk=response.json()["id"])
    assert job_spec_for(job).paced
    assert paced(preview(job)["argv"])


def test_an_unpaced_job_is_an_explicit_choice_for_file_to_file_work(
    operator_api: APIClient,
) -> None:
    out = str(settings.VAR_DIR / "outputs" / "o.mkv")
    body = job_body({"kind": "file", "url": out}, realtime=False)
    response = operator_api.post("/api/v1/ffmpeg/preview", {"job": body}, format="json")
    assert response.status_code == 200, response.content
    assert not paced(response.json()["argv"])
    assert "preview.unpaced_live_output" not in {w["code"] for w in response.json()["warnings"]}


def test_the_preview_warns_when_an_unpaced_input_feeds_a_live_output(
    operator_api: APIClient,
) -> None:
    hls = {"kind": "hls", "url": str(settings.VAR_DIR / "outputs" / "hls")}
    body = job_body(RTMP, hls, realtime=False)
    response = operator_api.post("/api/v1/ffmpeg/preview", {"job": body}, format="json")
    assert response.status_code == 200, response.content
    warnings = [
        w for w in response.json()["warnings"] if w["code"] == "preview.unpaced_live_output"
    ]
    assert [(w["params"]["output"], w["params"]["kind"]) for w in warnings] == [
        (0, "rtmp"),
        (1, "hls"),
    ]
    assert "k-12345678" not in response.content.decode()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_library_item_in_s3_is_paced_like_a_local_file(s3_server: S3Server) -> None:  # noqa: F811
    source = make_s3_source(
        endpoint_url=s3_server.endpoint,
        region=s3_server.region,
        bucket=s3_server.bucket,
        access_key=s3_server.access_key,
        secret_key=s3_server.secret_key,
        prefix="library",
    )
    item = make_item(source=source, relpath="shows/clip2.mp4", duration=2.0)
    job = job_with_outputs(RTMP, input_kind="media_item", input_media_item=item, realtime=True)
    with s3_server.auth_disabled():
        argv = preview(job)["argv"]
    assert argv[argv.index("-i") + 1].startswith(s3_server.endpoint)
    assert paced(argv)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_test_pattern_job_run_for_n_seconds_records_about_n_seconds(
    operator_api: APIClient, settings: Any, tmp_path: Path
) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    udp = {"kind": "udp", "url": "udp://127.0.0.1:9"}
    small = new_profile(width=160, height=120).pk  # the API's defaults for everything else
    body = {**job_body(udp), "profile": small, "recording_enabled": True}
    response = operator_api.post("/api/v1/stream-jobs", body, format="json")
    assert response.status_code == 201, response.content
    job = StreamJob.objects.get(pk=response.json()["id"])
    stream_job_start(actor=None, job=job)
    thread = start_supervised(job)
    wait_until(lambda: run_row(job).last_stats.get("out_time_s") is not None)
    time.sleep(5)
    stream_job_stop(actor=None, job=job)
    thread.join(20)
    assert thread.result == ExitReason.STOPPED
    # Unpaced, this was about 8x: a 10 s run made a 36 s recording.
    recording = Recording.objects.get(stream_job_id=job.pk)
    assert recording.duration == pytest.approx(5, abs=2)


def test_the_migration_paces_existing_jobs_that_feed_a_live_output_only() -> None:
    from importlib import import_module

    from django.apps import apps

    migration = import_module("apps.streams.migrations.0010_stream_jobs_paced_by_default")
    live = job_with_outputs({"kind": "rtmp"}, {"kind": "file", "url": "/x.mkv"}, realtime=False)
    files_only = job_with_outputs({"kind": "file", "url": "/x.mkv"}, realtime=False)
    migration.pace_existing_jobs(apps, None)
    live.refresh_from_db()
    files_only.refresh_from_db()
    assert (live.realtime, files_only.realtime) == (True, False)
