"""Dry-run encodes against real ffmpeg/ffprobe and a real nginx-rtmp target."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import psutil
import pytest

from workers.ffmpeg.dryrun import DryRunOptions, dry_run_checks, run_dry_run
from workers.ffmpeg.preflight import Status
from workers.ffmpeg.progress import Progress
from workers.ffmpeg.spec import (
    AudioCodec,
    FileInput,
    FileOutput,
    HlsOutput,
    JobSpec,
    ProfileSpec,
    RtmpOutput,
    TestPatternInput,
)
from workers.ffmpeg.tests.rtmp_server import RtmpServer, rtmp_server_fixture  # noqa: F401

SMALL = TestPatternInput(width=320, height=240, rate=30)


def profile(**overrides: object) -> ProfileSpec:
    values: dict[str, object] = {"video_bitrate_kbps": 800, "keyframe_interval_s": 2.0}
    return ProfileSpec(**{**values, **overrides})  # type: ignore[arg-type]


def ffmpeg_children() -> list[psutil.Process]:
    return [p for p in psutil.Process().children(recursive=True) if p.name() == "ffmpeg"]


@pytest.mark.slow
def test_lavfi_libx264_reports_keyframes_speed_and_bitrate(tmp_path: Path) -> None:
    spec = JobSpec(input=SMALL, profile=profile(), outputs=(FileOutput(str(tmp_path / "o.mkv")),))
    seen: list[Progress] = []
    result = run_dry_run(
        spec, DryRunOptions(seconds=5, temp_root=str(tmp_path)), on_progress=seen.append
    )
    assert result.ok, result.errors
    assert result.keyframes is not None
    assert result.keyframes.mean_interval_s == pytest.approx(2.0, abs=0.05)
    assert result.keyframes.max_interval_s == pytest.approx(2.0, abs=0.1)
    assert result.speed is not None and result.speed > 0
    assert result.encoded_seconds == pytest.approx(5.0, abs=0.2)
    assert result.video == {
        "codec": "h264",
        "width": 320,
        "height": 240,
        "frame_rate": 30.0,
        "pix_fmt": "yuv420p",
    }
    assert result.bitrate_kbps is not None and 200 < result.bitrate_kbps < 3000
    assert seen and seen[-1].ended
    assert not (tmp_path / "o.mkv").exists()  # the real output is never written
    assert [p for p in tmp_path.iterdir() if p.name.startswith("castcore-dryrun-")] == []
    statuses = {c.name: c.status for c in dry_run_checks(spec, result)}
    assert statuses["dry_run.encode"] is Status.GREEN
    assert statuses["dry_run.keyframes"] is Status.GREEN


@pytest.mark.slow
def test_a_wrong_keyframe_interval_is_yellow(tmp_path: Path) -> None:
    spec = JobSpec(
        input=SMALL,
        profile=profile(keyframe_interval_s=1.0),
        outputs=(FileOutput(str(tmp_path / "o.ts")),),
    )
    result = run_dry_run(spec, DryRunOptions(seconds=4))
    assert result.keyframes is not None and result.keyframes.mean_interval_s == pytest.approx(
        1.0, abs=0.05
    )
    # Claim the profile wanted 3 s: the measured 1 s spacing must be flagged.
    claimed = JobSpec(input=SMALL, profile=profile(keyframe_interval_s=3.0), outputs=spec.outputs)
    check = next(c for c in dry_run_checks(claimed, result) if c.name == "dry_run.keyframes")
    assert (check.status, check.code) == (Status.YELLOW, "dry_run.keyframe_interval_mismatch")


@pytest.mark.slow
def test_it_never_publishes_to_the_real_rtmp_output(rtmp_server: RtmpServer) -> None:
    spec = JobSpec(
        input=SMALL,
        profile=profile(),
        outputs=(RtmpOutput(url=rtmp_server.app_url, stream_key="goodkey"),),
    )
    result = run_dry_run(spec, DryRunOptions(seconds=2))
    assert result.ok, result.errors
    assert result.container == "flv"  # the muxer of the RTMP output, written to a temp file
    assert rtmp_server.publish_attempts == []


@pytest.mark.slow
def test_opus_for_rtmp_fails_with_the_ffmpeg_hint() -> None:
    spec = JobSpec(
        input=SMALL,
        profile=profile(audio_codec=AudioCodec.LIBOPUS),
        outputs=(RtmpOutput(url="rtmp://127.0.0.1:1/live", stream_key="abcdefghijklmnop"),),
    )
    result = run_dry_run(spec, DryRunOptions(seconds=2))
    assert not result.ok
    assert "ffmpeg.codec_not_supported_by_container" in {e["code"] for e in result.errors}
    checks = dry_run_checks(spec, result)
    assert [(c.status, c.code) for c in checks] == [(Status.RED, "dry_run.encode_failed")]


@pytest.mark.slow
def test_a_missing_input_fails_and_leaves_nothing_behind(tmp_path: Path) -> None:
    spec = JobSpec(
        input=FileInput(str(tmp_path / "gone.mp4")),
        profile=profile(),
        outputs=(FileOutput(str(tmp_path / "o.mkv")),),
    )
    result = run_dry_run(spec, DryRunOptions(seconds=2, temp_root=str(tmp_path)))
    assert not result.ok
    assert "ffmpeg.input_not_found" in {e["code"] for e in result.errors}
    assert sorted(os.listdir(tmp_path)) == []


@pytest.mark.slow
def test_the_timeout_kills_ffmpeg_and_cleans_up() -> None:
    spec = JobSpec(input=SMALL, profile=profile(), outputs=(FileOutput("/tmp/never.mkv"),))
    before = set(os.listdir(tempfile.gettempdir()))
    # 600 s of video take far longer than the 1 s bound.
    result = run_dry_run(spec, DryRunOptions(seconds=600, timeout_s=1.0))
    assert result.exit_reason == "timeout"
    assert not result.ok
    assert ffmpeg_children() == []
    leftovers = {
        n
        for n in set(os.listdir(tempfile.gettempdir())) - before
        if n.startswith("castcore-dryrun-")
    }
    assert leftovers == set()


@pytest.mark.slow
@pytest.mark.parametrize("output", ["hls", "mkv"])
def test_the_bitrate_of_a_1500k_cbr_profile_is_measured_from_its_packets(
    tmp_path: Path, output: str
) -> None:
    # MPEG-TS (what an HLS, SRT or UDP output is tried with) once reported 10 kbps here.
    target = (
        HlsOutput(str(tmp_path / "hls")) if output == "hls" else FileOutput(str(tmp_path / "o.mkv"))
    )
    spec = JobSpec(
        input=TestPatternInput(width=1280, height=720, rate=30),
        profile=profile(video_bitrate_kbps=1500, preset="veryfast"),
        outputs=(target,),
    )
    result = run_dry_run(spec, DryRunOptions(seconds=4, temp_root=str(tmp_path)))
    assert result.ok, result.errors
    video, total = result.video_bitrate_kbps, result.bitrate_kbps
    assert video is not None and total is not None
    assert video == pytest.approx(1500, rel=0.15)
    # Every stream's packets: the video plus 128 kbps of AAC, no container overhead.
    assert total == pytest.approx(1500 + 128, rel=0.15)
    assert total > video
