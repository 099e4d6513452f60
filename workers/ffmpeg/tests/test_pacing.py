"""Recorded inputs are read at their native rate unless a job asks for speed."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from workers.ffmpeg.argv import build_argv, preview_warnings
from workers.ffmpeg.confine import confinement_for
from workers.ffmpeg.spec import (
    FileInput,
    FileOutput,
    HlsOutput,
    InputSpec,
    JobSpec,
    OutputSpec,
    PlaylistInput,
    ProfileSpec,
    RtmpOutput,
    SrtOutput,
    TestPatternInput,
    UdpOutput,
    UrlInput,
)
from workers.ffmpeg.supervisor import ExitReason, FFmpegProcess
from workers.ffmpeg.testing import make_video

PROFILE = ProfileSpec(
    video_bitrate_kbps=200, width=160, height=120, fps=10, keyframe_interval_s=1, preset="ultrafast"
)
PATTERN = TestPatternInput(width=160, height=120, rate=10)  # endless
RTMP = RtmpOutput(url="rtmp://127.0.0.1:1935/live", stream_key="k" * 16)
LIVE_OUTPUTS: tuple[OutputSpec, ...] = (
    RTMP,
    SrtOutput(url="srt://127.0.0.1:9000"),
    UdpOutput(url="udp://127.0.0.1:9001"),
    HlsOutput(directory="/srv/hls"),
)


def media_seconds(path: Path) -> float:
    argv = ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "json"]
    out = subprocess.run(
        [*argv, f"file:{path}"],
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout
    return float(json.loads(out)["format"]["duration"])


def record_for(spec: JobSpec, seconds: float, workdir: Path) -> float:
    """Run `spec` for `seconds` of wall time, stop it as an operator would; media seconds."""
    process = FFmpegProcess(
        build_argv(spec, workdir), cwd=str(workdir), confinement=confinement_for(spec, workdir)
    )
    process.start()
    deadline = time.monotonic() + 15
    while process.last_progress is None and time.monotonic() < deadline:
        time.sleep(0.05)  # count from the first progress: ffmpeg's own start-up is not media
    time.sleep(seconds)
    assert process.stop().reason is ExitReason.STOPPED
    output = spec.outputs[0]
    assert isinstance(output, FileOutput)
    return media_seconds(Path(output.path))


@pytest.mark.slow
def test_a_test_pattern_run_of_n_seconds_makes_about_n_seconds_of_media(tmp_path: Path) -> None:
    spec = JobSpec(input=PATTERN, profile=PROFILE, outputs=(FileOutput(str(tmp_path / "o.mkv")),))
    assert record_for(spec, 4.0, tmp_path / "work") == pytest.approx(4.0, abs=1.5)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["file", "folder"])
def test_a_file_or_a_looping_folder_is_read_at_its_native_rate_by_default(
    tmp_path: Path, kind: str
) -> None:
    clips = [make_video(tmp_path / f"{n}.mp4", seconds=2, rate=10) for n in ("a", "b")]
    # A media folder plays as a looping playlist: 4 s of clips over and over.
    source: InputSpec = (
        FileInput(str(clips[0]))
        if kind == "file"
        else PlaylistInput(paths=tuple(str(c) for c in clips))
    )
    spec = JobSpec(
        input=source,
        profile=PROFILE,
        outputs=(FileOutput(str(tmp_path / "o.mkv")),),
        loop=True,
    )
    assert record_for(spec, 5.0, tmp_path / "work") == pytest.approx(5.0, abs=1.5)


@pytest.mark.slow
def test_an_unpaced_job_still_runs_faster_than_real_time(tmp_path: Path) -> None:
    spec = JobSpec(
        input=PATTERN,
        profile=PROFILE,
        outputs=(FileOutput(str(tmp_path / "o.mkv")),),
        realtime=False,
    )
    # A 160x120 pattern encodes at well over 3x here even on a busy machine.
    assert record_for(spec, 3.0, tmp_path / "work") > 9.0


@pytest.mark.parametrize(
    "source",
    [
        PATTERN,
        FileInput("/m/a.mp4"),
        PlaylistInput(paths=("/m/a.mp4", "/m/b.mp4")),
        UrlInput("https://bucket.example/a.mp4?X-Amz-Signature=abc", recorded=True),
    ],
)
def test_recorded_inputs_are_paced_unless_the_job_opts_out(
    source: InputSpec, tmp_path: Path
) -> None:
    out = (FileOutput("/o.mkv"),)
    paced = build_argv(JobSpec(input=source, profile=PROFILE, outputs=out), tmp_path)
    assert "-re" in paced[: paced.index("-i")]
    fast = build_argv(JobSpec(input=source, profile=PROFILE, outputs=out, realtime=False), tmp_path)
    assert "-re" not in fast


def test_a_live_url_input_is_never_paced(tmp_path: Path) -> None:
    for url in ("rtmp://127.0.0.1/live/x", "srt://127.0.0.1:9000", "https://h.example/live.m3u8"):
        spec = JobSpec(input=UrlInput(url), profile=PROFILE, outputs=(FileOutput("/o.mkv"),))
        assert "-re" not in build_argv(spec, tmp_path)


def warning_outputs(spec: JobSpec) -> list[object]:
    return [
        w.params["output"]
        for w in preview_warnings(spec)
        if w.code == "preview.unpaced_live_output"
    ]


def test_the_preview_warns_when_an_unpaced_input_feeds_a_live_output() -> None:
    outputs = (FileOutput("/o.mkv"), *LIVE_OUTPUTS)
    spec = JobSpec(input=PATTERN, profile=PROFILE, outputs=outputs, realtime=False)
    assert warning_outputs(spec) == [1, 2, 3, 4]  # every live output, not the file
    warning = next(w for w in preview_warnings(spec) if w.params["output"] == 1)
    assert warning.params["kind"] == "rtmp"
    assert RTMP.stream_key not in warning.message


def test_the_preview_is_quiet_about_pacing_when_nothing_is_unpaced_or_live() -> None:
    assert warning_outputs(JobSpec(input=PATTERN, profile=PROFILE, outputs=LIVE_OUTPUTS)) == []
    file_only = JobSpec(
        input=PATTERN, profile=PROFILE, outputs=(FileOutput("/o.mkv"),), realtime=False
    )
    assert warning_outputs(file_only) == []
    live_in = JobSpec(
        input=UrlInput("rtmp://127.0.0.1/live/x"),
        profile=PROFILE,
        outputs=LIVE_OUTPUTS,
        realtime=False,
    )
    assert warning_outputs(live_in) == []  # a live source comes at its own rate anyway
