"""Hints name the right side: an output's error never gets an input's hint (real ffmpeg)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from workers.ffmpeg.argv import build_argv
from workers.ffmpeg.escaping import file_url
from workers.ffmpeg.logs import LogClassifier, LogEvent, LogSides, Side
from workers.ffmpeg.spec import (
    FileInput,
    FileOutput,
    HlsOutput,
    JobSpec,
    ProfileSpec,
    RtmpOutput,
    TestPatternInput,
    UrlInput,
)

PROFILE = ProfileSpec(
    video_bitrate_kbps=200, width=160, height=120, fps=10, keyframe_interval_s=1, preset="ultrafast"
)
PATTERN = TestPatternInput(width=160, height=120, rate=10, duration_s=1, with_audio=False)
INPUT_HINT = "ffmpeg.input_not_found"


def stderr_of(argv: list[str]) -> list[str]:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    return done.stderr.splitlines()


def classify(lines: list[str], sides: LogSides | None) -> list[LogEvent]:
    classifier = LogClassifier((), sides)
    return [classifier.classify(line) for line in lines]


def codes(events: list[LogEvent]) -> set[str]:
    return {e.hint_code for e in events if e.hint_code}


@pytest.mark.slow
def test_segments_an_hls_output_cannot_delete_never_get_the_input_hint(tmp_path: Path) -> None:
    output = HlsOutput(directory=str(tmp_path / "hls"), segment_seconds=1, list_size=1)
    (tmp_path / "hls").mkdir()
    spec = JobSpec(
        input=TestPatternInput(width=160, height=120, rate=10, duration_s=4, with_audio=False),
        profile=PROFILE,
        outputs=(output,),
        realtime=False,
    )
    argv = build_argv(spec, tmp_path / "work")
    # The segment name as it was before HLS outputs were fixed: hlsenc cannot delete these.
    template = argv.index("-hls_segment_filename") + 1
    argv[template] = file_url(argv[template])
    lines = stderr_of(argv)
    failed = [line for line in lines if "failed to delete old segment" in line]
    assert failed  # the situation of the report: every deletion an error line
    for sides in (LogSides.for_spec(spec, tmp_path / "work"), None):
        events = [e for e in classify(lines, sides) if "failed to delete" in e.message]
        assert {e.side for e in events} == {Side.OUTPUT}
        assert codes(events) == {"ffmpeg.output_path_not_found"}


@pytest.mark.slow
def test_a_missing_output_folder_gets_the_output_hint(tmp_path: Path) -> None:
    spec = JobSpec(
        input=PATTERN,
        profile=PROFILE,
        outputs=(FileOutput(str(tmp_path / "gone" / "o.mkv")),),
        realtime=False,
    )
    lines = stderr_of(build_argv(spec, tmp_path / "work"))
    assert any("No such file or directory" in line for line in lines)
    assert "ffmpeg.output_path_not_found" in codes(classify(lines, LogSides.for_spec(spec)))
    # Even knowing nothing of the job, the line is not taken for the input's.
    assert INPUT_HINT not in codes(classify(lines, None))


@pytest.mark.slow
def test_a_missing_input_file_still_gets_the_input_hint(tmp_path: Path) -> None:
    spec = JobSpec(
        input=FileInput(str(tmp_path / "gone.mp4")),
        profile=PROFILE,
        outputs=(FileOutput(str(tmp_path / "o.mkv")),),
    )
    lines = stderr_of(build_argv(spec, tmp_path / "work"))
    for sides in (LogSides.for_spec(spec), None):
        hinted = codes(classify(lines, sides))
        assert INPUT_HINT in hinted
        assert "ffmpeg.output_path_not_found" not in hinted


def test_an_rtmp_input_that_fails_is_not_a_rejected_stream_key() -> None:
    key = "input-key-123456"
    spec = JobSpec(
        input=UrlInput(f"rtmp://127.0.0.1/app/{key}"),
        profile=PROFILE,
        outputs=(RtmpOutput(url="rtmp://127.0.0.1/live", stream_key="out-key-12345678"),),
    )
    classifier = LogClassifier(spec.secrets(), LogSides.for_spec(spec))
    ffmpeg_said = [
        "[info] Input #0, lavfi, from 'x':",  # as if the input had opened and then failed
        f"[error] rtmp://127.0.0.1/app/{key}: Input/output error",
    ]
    event = [classifier.classify(line) for line in ffmpeg_said][-1]
    assert event.side is Side.INPUT
    assert event.hint_code is None
    published = classifier.classify(
        "[error] rtmp://127.0.0.1/live/out-key-12345678: Input/output error"
    )
    assert (published.side, published.hint_code) == (Side.OUTPUT, "ffmpeg.stream_key_rejected")
    assert "out-key-12345678" not in published.line


def test_the_longer_name_decides_when_an_output_folder_holds_the_input() -> None:
    spec = JobSpec(
        input=FileInput("/srv/media/show.mp4"),
        profile=PROFILE,
        outputs=(HlsOutput(directory="/srv/media"),),
    )
    classifier = LogClassifier((), LogSides.for_spec(spec))
    classifier.classify(
        "[info] Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'file:/srv/media/show.mp4':"
    )
    read = classifier.classify("[error] file:/srv/media/show.mp4: No such file or directory")
    assert (read.side, read.hint_code) == (Side.INPUT, INPUT_HINT)
    wrote = classifier.classify("[error] file:/srv/media/index.m3u8: No such file or directory")
    assert (wrote.side, wrote.hint_code) == (Side.OUTPUT, "ffmpeg.output_path_not_found")


def test_the_names_of_a_job_keep_its_stream_key_out_of_their_repr() -> None:
    output = RtmpOutput(url="rtmp://127.0.0.1/live", stream_key="out-key-12345678")
    spec = JobSpec(input=PATTERN, profile=PROFILE, outputs=(output,))
    assert "out-key-12345678" not in repr(LogSides.for_spec(spec))
