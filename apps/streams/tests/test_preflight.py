"""Preflight reports: requested through the API, run by the task function, stored check by check."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.streams import conf
from apps.streams.models import ReportKind, ReportState, StreamReport
from apps.streams.quota import MB
from apps.streams.services.report_requests import stream_report_request
from apps.streams.tests.factories import job_with_outputs
from apps.streams.tests.helpers import redirecting_server
from workers import preflight as tasks
from workers.ffmpeg.tests.rtmp_server import RtmpServer, free_port

pytestmark = pytest.mark.django_db


def preflight(job: Any) -> StreamReport:
    report = stream_report_request(actor=job.owner, job=job, kind=ReportKind.PREFLIGHT)
    tasks.run_preflight(report.pk)  # the task function itself, as the worker runs it
    report.refresh_from_db()
    return report


def by_name(report: StreamReport) -> dict[str, dict[str, Any]]:
    return {check["name"]: check for check in report.checks}


def test_the_api_request_then_the_task_give_a_green_report(
    operator_api: APIClient, tmp_path: Path
) -> None:
    job = job_with_outputs({"kind": "file", "url": str(tmp_path / "out.mkv")})
    response = operator_api.post(f"/api/v1/stream-jobs/{job.pk}/preflight")
    assert response.status_code in (201, 202), response.content
    body = response.json()
    report_id = body.get("id") or body.get("report_id")
    assert StreamReport.objects.get(pk=report_id).state == ReportState.PENDING

    tasks.run_preflight(report_id)

    report = StreamReport.objects.get(pk=report_id)
    assert (report.state, report.overall) == (ReportState.DONE, "green"), report.checks
    assert report.finished_at is not None
    names = [check["name"] for check in report.checks]
    assert names[:3] == ["ffmpeg", "encoders", "input"]
    assert {"output.0.writable", "output.0.codecs", "disk.0"} <= set(names)
    assert all(check["status"] == "green" for check in report.checks)


def test_the_disk_check_is_red_below_the_free_space_floor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Where a start would be refused (apps/streams/quota.py), the preflight says red.
    floor_mb = shutil.disk_usage(tmp_path).free // MB + 10 * 1024
    monkeypatch.setattr(conf, "DISK_MIN_FREE_MB", floor_mb)
    job = job_with_outputs({"kind": "file", "url": str(tmp_path / "out.mkv")})
    check = by_name(preflight(job))["disk.0"]
    assert (check["status"], check["code"]) == ("red", "preflight.disk_low"), check


def test_a_missing_input_file_is_red(tmp_path: Path) -> None:
    job = job_with_outputs(
        {"kind": "file", "url": str(tmp_path / "out.mkv")},
        input_kind="file",
        input_path=str(tmp_path / "missing.mp4"),
    )
    report = preflight(job)
    assert (report.state, report.overall) == (ReportState.DONE, "red")
    check = by_name(report)["input"]
    assert (check["status"], check["code"]) == ("red", "preflight.input_unreachable")
    assert check["params"]["reason"] == "probe.not_found"


def test_an_input_that_redirects_to_a_metadata_address_is_red_with_that_reason(
    tmp_path: Path,
) -> None:
    with redirecting_server("http://169.254.169.254/latest/meta-data/") as (base, _):
        job = job_with_outputs(
            {"kind": "file", "url": str(tmp_path / "out.mkv")},
            input_kind="url",
            input_url=f"{base}/live.ts",
        )
        check = by_name(preflight(job))["input"]
    assert (check["status"], check["code"]) == ("red", "preflight.input_unreachable")
    assert check["params"]["reason"] == "probe.address_not_allowed"


def test_an_rtmp_output_to_a_closed_port_is_unreachable() -> None:
    port = free_port()
    job = job_with_outputs({"kind": "rtmp", "url": f"rtmp://127.0.0.1:{port}/live"})
    report = preflight(job)
    check = by_name(report)["output.0.reachable"]
    assert (check["status"], check["code"]) == ("red", "preflight.output_unreachable")
    assert check["params"]["port"] == port
    assert report.overall == "red"


def test_an_output_on_an_invalid_domain_fails_dns() -> None:
    job = job_with_outputs({"kind": "rtmp", "url": "rtmp://something.invalid/live"})
    check = by_name(preflight(job))["output.0.dns"]
    assert (check["status"], check["code"]) == ("red", "preflight.dns_failed")
    assert check["params"]["host"] == "something.invalid"


def test_a_live_rtmp_server_is_reachable_and_never_published_to(rtmp_server: RtmpServer) -> None:
    job = job_with_outputs({"kind": "rtmp", "url": rtmp_server.app_url, "stream_key": "goodkey"})
    report = preflight(job)
    assert by_name(report)["output.0.reachable"]["code"] == "preflight.output_reachable"
    assert report.overall == "green", report.checks
    assert rtmp_server.publish_attempts == []


def test_an_output_without_a_stream_key_is_red_and_the_rest_still_runs(tmp_path: Path) -> None:
    job = job_with_outputs(
        {"kind": "rtmp", "url": "rtmp://127.0.0.1:1/live", "stream_key": ""},
        {"kind": "file", "url": str(tmp_path / "out.mkv")},
    )
    checks = by_name(preflight(job))
    assert checks["output.0.spec"]["code"] == "preflight.stream_key_missing"
    assert checks["output.1.writable"]["status"] == "green"  # indexes still match the rows
    assert "outputs" not in checks


def test_secrets_stay_out_of_the_report() -> None:
    secret = "sk_live_0123456789abcdefXYZ"
    job = job_with_outputs(
        {"kind": "rtmp", "url": "rtmp://something.invalid/live", "stream_key": secret},
        input_kind="url",
        input_url=f"rtmp://127.0.0.1:{free_port()}/live/{secret}",
    )
    report = preflight(job)
    assert report.checks
    assert secret not in repr(report.checks)


def test_a_redelivered_task_does_not_run_twice(tmp_path: Path) -> None:
    job = job_with_outputs({"kind": "file", "url": str(tmp_path / "out.mkv")})
    report = preflight(job)
    count = len(report.checks)
    tasks.run_preflight(report.pk)
    report.refresh_from_db()
    assert len(report.checks) == count
    assert report.state == ReportState.DONE


def test_the_tasks_go_to_the_ffmpeg_queue() -> None:
    from castcore.celery import app

    for task in (tasks.run_preflight, tasks.run_dry_run):
        assert app.amqp.router.route({}, task.name)["queue"].name == "ffmpeg"
