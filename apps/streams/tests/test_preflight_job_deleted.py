"""A preflight (or dry run) whose job is deleted while it runs ends quietly: the task returns,
with no traceback and no error in the log, and nothing is written for the deleted report."""

from __future__ import annotations

import contextlib
import http.server
import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from apps.streams.models import ReportKind, StreamJob, StreamReport
from apps.streams.services import stream_job_delete
from apps.streams.services.report_requests import stream_report_request
from apps.streams.tests.factories import job_with_outputs
from workers import preflight as tasks

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@contextlib.contextmanager
def held_input() -> Iterator[tuple[str, threading.Event, threading.Event]]:
    """An HTTP input on loopback that holds each request until released (then answers 404).

    Yields its URL, an event set when ffmpeg asked, and the release event.
    """
    asked, release = threading.Event(), threading.Event()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.set()
            release.wait(30)
            self.send_error(404)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/live.ts", asked, release
    finally:
        release.set()
        server.shutdown()
        server.server_close()


class TaskThread(threading.Thread):
    def __init__(self, task: Any, report_id: int) -> None:
        super().__init__(daemon=True)
        self.task, self.report_id = task, report_id
        self.error: BaseException | None = None

    def run(self) -> None:
        from django.db import connections

        try:
            self.task(self.report_id)  # the task function itself, as the worker runs it
        except BaseException as exc:
            self.error = exc
        finally:
            connections.close_all()


@pytest.mark.parametrize(
    ("kind", "task"),
    [(ReportKind.PREFLIGHT, tasks.run_preflight), (ReportKind.DRY_RUN, tasks.run_dry_run)],
)
def test_a_report_whose_job_is_deleted_while_it_runs_ends_quietly(
    kind: str, task: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with held_input() as (url, asked, release):
        job = job_with_outputs(
            {"kind": "udp", "url": "udp://127.0.0.1:9", "stream_key": ""},
            input_kind="url",
            input_url=url,
        )
        report = stream_report_request(actor=None, job=job, kind=kind)
        caplog.set_level(logging.INFO)
        thread = TaskThread(task, report.pk)
        thread.start()
        assert asked.wait(30), "ffmpeg never asked for the input"

        stream_job_delete(actor=None, job=StreamJob.objects.get(pk=job.pk))
        assert not StreamReport.objects.filter(pk=report.pk).exists()
        release.set()
        thread.join(60)

    assert not thread.is_alive() and thread.error is None
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert errors == []
    assert any("deleted while it ran" in r.getMessage() for r in caplog.records)
