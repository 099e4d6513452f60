"""HLS outputs keep a bounded folder: real ffmpeg, a window that moves several times."""

from __future__ import annotations

from pathlib import Path

import pytest

from workers.ffmpeg.argv import build_argv
from workers.ffmpeg.confine import confinement_for
from workers.ffmpeg.logs import LogEvent, LogLevel
from workers.ffmpeg.muxers import remove_hls_leftovers
from workers.ffmpeg.spec import HlsOutput, JobSpec, ProfileSpec, TestPatternInput
from workers.ffmpeg.supervisor import ExitReason, FFmpegProcess

PROFILE = ProfileSpec(
    video_bitrate_kbps=200, width=160, height=120, fps=10, keyframe_interval_s=1, preset="ultrafast"
)
WINDOW = 3  # segments the playlist lists


def run_hls(folder: Path, workdir: Path, seconds: float) -> list[LogEvent]:
    output = HlsOutput(directory=str(folder), segment_seconds=1, list_size=WINDOW)
    spec = JobSpec(
        input=TestPatternInput(width=160, height=120, rate=10, duration_s=seconds),
        profile=PROFILE,
        outputs=(output,),
        realtime=True,
    )
    assert remove_hls_leftovers(output) == []  # what the runtime does before each process
    events: list[LogEvent] = []
    process = FFmpegProcess(
        build_argv(spec, workdir),
        on_log=events.append,
        cwd=str(workdir),
        confinement=confinement_for(spec, workdir),
    )
    process.start()
    assert process.wait(timeout=seconds + 30).reason is ExitReason.COMPLETED
    return events


def segments(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.suffix == ".ts")


def errors(events: list[LogEvent]) -> list[str]:
    return [e.line for e in events if e.level in (LogLevel.ERROR, LogLevel.FATAL)]


@pytest.mark.slow
def test_an_hls_run_across_its_window_deletes_old_segments_without_errors(tmp_path: Path) -> None:
    folder = tmp_path / "hls"
    folder.mkdir()
    events = run_hls(folder, tmp_path / "work", seconds=8)
    # 8 segments written; the playlist's 3, plus the one hlsenc keeps for late readers.
    assert len(segments(folder)) <= WINDOW + 2, segments(folder)
    assert segments(folder)[-1] >= "segment_00006.ts"
    assert errors(events) == []
    assert all(e.hint_code is None for e in events)


@pytest.mark.slow
def test_runs_one_after_another_leave_no_segments_of_the_earlier_ones(tmp_path: Path) -> None:
    folder = tmp_path / "hls"
    folder.mkdir()
    run_hls(folder, tmp_path / "work", seconds=8)
    events = run_hls(folder, tmp_path / "work", seconds=3)  # numbers from 0 again
    assert len(segments(folder)) <= WINDOW + 2, segments(folder)
    assert segments(folder)[-1] < "segment_00004.ts"  # none of the first run's
    assert errors(events) == []


def test_only_castcores_own_segment_names_are_removed_as_leftovers(tmp_path: Path) -> None:
    for name in ("segment_00042.ts", "segment_123456.ts", "index.m3u8", "intro.ts", "segment_1.ts"):
        (tmp_path / name).write_bytes(b"x")
    assert remove_hls_leftovers(HlsOutput(directory=str(tmp_path))) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index.m3u8", "intro.ts", "segment_1.ts"]
    assert remove_hls_leftovers(HlsOutput(directory=str(tmp_path / "not-yet"))) == []
