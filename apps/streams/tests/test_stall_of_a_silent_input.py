"""A job's stall timeout applies to a silent input, even when longer than ffmpeg's own."""

from __future__ import annotations

from pathlib import Path

import pytest

from apps.streams.models import ExitReason
from apps.streams.services import stream_job_start, stream_job_stop
from apps.streams.tests.factories import job_with_outputs
from apps.streams.tests.helpers import run_row, start_supervised, wait_until
from workers.ffmpeg.argv import NETWORK_TIMEOUT_S
from workers.ffmpeg.tests.silent_server import silent_server  # noqa: F401

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_a_silent_input_is_restarted_as_a_stall_after_the_jobs_timeout(
    silent_server: int,  # noqa: F811
    tmp_path: Path,
) -> None:
    job = job_with_outputs(
        {"kind": "file", "url": str(tmp_path / "out.mkv"), "stream_key": ""},
        input_kind="url",
        input_url=f"rtmp://127.0.0.1:{silent_server}/live/camera",  # accepts, never answers
        stall_timeout_seconds=NETWORK_TIMEOUT_S + 3,
        reconnect_base_seconds=0.1,
    )
    stream_job_start(actor=None, job=job)
    thread = start_supervised(job)

    def first_verdict() -> str | None:
        lines = [entry["line"] for entry in run_row(job).log_tail]
        return next((line for line in lines if "; reconnect 1 in" in line), None)

    verdict = wait_until(first_verdict, timeout=NETWORK_TIMEOUT_S + 30)
    stream_job_stop(actor=None, job=job)
    thread.join(20)
    assert thread.result == ExitReason.STOPPED
    # Before: "ffmpeg failed" after ffmpeg's own 10 s, at every reconnect, never a stall.
    assert "ffmpeg stalled; reconnect 1" in verdict, verdict
