"""One timeline across ffmpegs: a process's output timestamps can continue another's
(JobSpec.output_ts_offset_s), and a follower of a local live HLS (FollowedHlsInput) lives
through its writer's restart with its own output's timestamps going on."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from itertools import pairwise
from pathlib import Path

import pytest

from workers.ffmpeg.argv import build_argv
from workers.ffmpeg.checks import SpecError
from workers.ffmpeg.confine import confinement_for
from workers.ffmpeg.spec import (
    AudioCodec,
    Container,
    FileOutput,
    FollowedHlsInput,
    HlsOutput,
    JobSpec,
    ProfileSpec,
    TestPatternInput,
    VideoCodec,
)
from workers.ffmpeg.supervisor import FFmpegProcess

SMALL = ProfileSpec(
    video_bitrate_kbps=200, width=160, height=90, fps=25, keyframe_interval_s=1, preset="ultrafast"
)
COPY = ProfileSpec(video_codec=VideoCodec.COPY, audio_codec=AudioCodec.COPY)


def _pattern(seconds: float | None = None) -> TestPatternInput:
    return TestPatternInput(width=160, height=90, rate=25, duration_s=seconds)


def test_an_offset_is_given_to_the_output_and_none_is_left_out(tmp_path: Path) -> None:
    output = FileOutput(path=str(tmp_path / "out.mkv"))
    argv = build_argv(JobSpec(_pattern(), SMALL, (output,), output_ts_offset_s=12.5), tmp_path)
    at = argv.index("-output_ts_offset")
    assert argv[at + 1] == "12.500000" and at > argv.index("-i")
    assert "-output_ts_offset" not in build_argv(JobSpec(_pattern(), SMALL, (output,)), tmp_path)


@pytest.mark.parametrize("offset", [-1.0, float("nan"), 1e12])
def test_an_offset_out_of_range_is_refused(tmp_path: Path, offset: float) -> None:
    with pytest.raises(SpecError):
        JobSpec(_pattern(), SMALL, (FileOutput(path=str(tmp_path / "o.mkv")),),
                output_ts_offset_s=offset)  # fmt: skip


def test_a_followed_hls_is_read_as_local_hls_from_its_newest_segment(tmp_path: Path) -> None:
    playlist = tmp_path / "hls" / "index.m3u8"
    spec = JobSpec(FollowedHlsInput(str(playlist)), COPY, (FileOutput(str(tmp_path / "o.ts")),))
    argv = build_argv(spec, tmp_path / "work")
    head = argv[: argv.index("-i") + 2]
    assert "-re" not in head  # live: it comes at its own pace
    assert head[-1] == f"file:{playlist}"
    for option, value in (
        ("-f", "hls"),
        ("-live_start_index", "-1"),
        ("-protocol_whitelist", "file"),
        ("-format_whitelist", "hls,mpegts"),
    ):
        assert head[head.index(option) + 1] == value  # fmt: skip
    assert str(playlist.parent) in confinement_for(spec, tmp_path / "work").read
    with pytest.raises(SpecError):
        FollowedHlsInput("relative/index.m3u8")


def _run(spec: JobSpec, workdir: Path) -> FFmpegProcess:
    argv = build_argv(spec, workdir)
    process = FFmpegProcess(argv, cwd=str(workdir), confinement=confinement_for(spec, workdir),
                            stall_timeout=30)  # fmt: skip
    process.start()
    return process


def _video_times(path: Path) -> list[float]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts_time",
         "-of", "json", str(path)],
        capture_output=True, check=True, text=True, timeout=30,
    )  # fmt: skip
    return [float(p["pts_time"]) for p in json.loads(out.stdout)["packets"]]


@pytest.mark.slow
def test_a_follower_outlives_its_writers_restart_on_one_timeline(tmp_path: Path) -> None:
    hls = tmp_path / "hls"
    hls.mkdir()
    writer_output = HlsOutput(directory=str(hls), segment_seconds=1, list_size=6, append=True)
    received = tmp_path / "received.ts"

    def write_twice() -> None:
        started = time.monotonic()
        for index in range(2):
            # The second continues the first's timeline: the seconds since it started.
            offset = time.monotonic() - started if index else 0.0
            spec = JobSpec(_pattern(4.0), SMALL, (writer_output,), output_ts_offset_s=offset)
            _run(spec, tmp_path / f"writer-{index}").wait(30)

    writer = threading.Thread(target=write_twice, daemon=True)
    writer.start()
    deadline = time.monotonic() + 20
    while not (hls / "index.m3u8").is_file():
        assert time.monotonic() < deadline, "the writer wrote no playlist"
        time.sleep(0.05)
    follow = JobSpec(
        FollowedHlsInput(str(hls / "index.m3u8")),
        COPY,
        (FileOutput(path=str(received), container=Container.MPEGTS),),
    )
    follower = _run(follow, tmp_path / "follower")
    writer.join(40)
    time.sleep(1.5)  # the writer's last segment reaches the follower
    assert follower.is_running(), "the follower ended with its first writer"
    follower.stop()
    follower.wait(15)

    times = _video_times(received)
    steps = [b - a for a, b in pairwise(times)]
    assert min(steps) > 0 and max(steps) < 1.5  # a writer's start-up, not a restart from 0
    assert times[-1] - times[0] > 4.0  # it carried the second writer's picture too
