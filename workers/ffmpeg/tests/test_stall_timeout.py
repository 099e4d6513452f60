"""A job's stall timeout decides when a silent input is given up, even past ffmpeg's own."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from workers.ffmpeg.argv import NETWORK_TIMEOUT_S, build_argv, network_timeout_us
from workers.ffmpeg.logs import LogEvent
from workers.ffmpeg.spec import FileOutput, JobSpec, ProfileSpec, SpecError, UrlInput
from workers.ffmpeg.supervisor import ExitReason, FFmpegProcess
from workers.ffmpeg.tests.silent_server import silent_server  # noqa: F401

PROFILE = ProfileSpec(video_bitrate_kbps=200, preset="ultrafast")


def spec_for(url: str, stall_timeout_s: float | None) -> JobSpec:
    return JobSpec(
        input=UrlInput(url),
        profile=PROFILE,
        outputs=(FileOutput("/tmp/never-written.mkv"),),
        stall_timeout_s=stall_timeout_s,
    )


@pytest.mark.slow
@pytest.mark.parametrize("scheme", ["rtmp", "http"])
def test_a_stall_timeout_longer_than_ffmpegs_network_timeout_applies_to_a_silent_input(
    silent_server: int,  # noqa: F811
    tmp_path: Path,
    scheme: str,
) -> None:
    stall = NETWORK_TIMEOUT_S + 3  # ffmpeg alone gives up after 10 s of silence
    spec = spec_for(f"{scheme}://127.0.0.1:{silent_server}/live/stream", stall)
    events: list[LogEvent] = []
    process = FFmpegProcess(
        build_argv(spec, tmp_path),
        stall_timeout=spec.stall_timeout_s,
        stop_grace_seconds=1.0,
        on_log=events.append,
        cwd=str(tmp_path),
    )
    started = time.monotonic()
    process.start()
    info = process.wait(timeout=stall + 30)
    # Stalled at the job's timeout, not failed at ffmpeg's ("Connection timed out").
    assert info.reason is ExitReason.STALLED, info.log_tail
    assert stall <= time.monotonic() - started < stall + 10
    assert "ffmpeg.connection_timeout" not in {e.hint_code for e in events}


def test_ffmpegs_network_timeout_stays_past_the_stall_timeout(tmp_path: Path) -> None:
    url = "rtmp://127.0.0.1:1935/live/x"
    assert network_timeout_us(spec_for(url, None)) == "10000000"  # no watchdog: the backstop
    assert network_timeout_us(spec_for(url, 3)) == "10000000"
    assert int(network_timeout_us(spec_for(url, 60))) > 60_000_000
    argv = build_argv(spec_for(url, 600), tmp_path)
    assert int(argv[argv.index("-rw_timeout") + 1]) > 600_000_000


@pytest.mark.parametrize("value", [0, -1, float("nan"), 86_401])
def test_a_stall_timeout_out_of_range_is_refused(value: float) -> None:
    with pytest.raises(SpecError) as error:
        spec_for("rtmp://127.0.0.1/live/x", value)
    assert error.value.params["field"] == "stall_timeout_s"
