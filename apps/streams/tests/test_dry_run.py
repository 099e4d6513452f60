"""Dry-run reports: a real test encode of the job's input and profile, never its real outputs."""

from __future__ import annotations

from typing import Any

import pytest

from apps.streams.models import ReportKind, ReportState, StreamReport
from apps.streams.services.report_requests import stream_report_request
from apps.streams.tests.factories import job_with_outputs
from workers import preflight as tasks
from workers.ffmpeg.tests.rtmp_server import RtmpServer

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def dry_run(job: Any) -> StreamReport:
    report = stream_report_request(actor=job.owner, job=job, kind=ReportKind.DRY_RUN)
    tasks.run_dry_run(report.pk)
    report.refresh_from_db()
    return report


def test_lavfi_libx264_with_2s_keyframes(rtmp_server: RtmpServer) -> None:
    job = job_with_outputs(
        {"kind": "rtmp", "url": rtmp_server.app_url, "stream_key": "goodkey"},
        profile__keyframe_interval_s=2.0,
    )
    report = dry_run(job)
    assert (report.state, report.overall) == (ReportState.DONE, "green"), report.checks
    result = report.result
    assert result["ok"] is True
    assert result["keyframes"]["mean_interval_s"] == pytest.approx(2.0, abs=0.05)
    assert result["speed"] > 0
    assert result["container"] == "flv"
    assert result["video"]["codec"] == "h264"
    assert result["bitrate_kbps"] > 0
    checks = {c["name"]: c for c in report.checks}
    assert checks["dry_run.keyframes"]["code"] == "dry_run.keyframe_interval_ok"
    assert checks["dry_run.encode"]["status"] == "green"
    assert rtmp_server.publish_attempts == []  # the real output never saw a publish


def test_an_encoder_failure_is_a_red_report() -> None:
    job = job_with_outputs(
        {"kind": "rtmp", "url": "rtmp://127.0.0.1:1/live", "stream_key": "goodkey"},
        profile__audio_codec="libopus",
        profile__audio_sample_rate=48000,  # libopus refuses 44100 before FLV gets its say
    )
    report = dry_run(job)
    assert (report.state, report.overall) == (ReportState.DONE, "red")
    assert report.checks[0]["code"] == "dry_run.encode_failed"
    codes = {error["code"] for error in report.result["errors"]}
    assert "ffmpeg.codec_not_supported_by_container" in codes


def test_a_preflight_report_is_not_run_as_a_dry_run() -> None:
    job = job_with_outputs({"kind": "rtmp", "url": "rtmp://127.0.0.1:1/live"})
    report = stream_report_request(actor=job.owner, job=job, kind=ReportKind.PREFLIGHT)
    tasks.run_dry_run(report.pk)
    report.refresh_from_db()
    assert (report.state, report.checks) == (ReportState.PENDING, [])
