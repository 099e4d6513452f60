"""ffmpeg and ffprobe stay inside their inputs, run folder and output folders: demuxers that
name other files are refused, and Landlock stops whatever a file talks them into opening."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from workers.ffmpeg.argv import build_argv
from workers.ffmpeg.confine import Confinement, confinement_for, landlock_abi
from workers.ffmpeg.logs import LogEvent
from workers.ffmpeg.probe import ProbeError, probe, run_bounded
from workers.ffmpeg.spec import (
    AudioCodec,
    FileInput,
    FileOutput,
    HlsOutput,
    JobSpec,
    OverlaySpec,
    PlaylistInput,
    ProfileSpec,
    TestPatternInput,
    VideoCodec,
)
from workers.ffmpeg.supervisor import ExitReason, FFmpegProcess
from workers.ffmpeg.testing import make_video

pytestmark = pytest.mark.skipif(landlock_abi() < 1, reason="this kernel has no Landlock")

# Global metadata ffmpeg copies into every output it makes from the outside file.
MARKER = "OUTSIDE-BYTES-7f3a9c"
COPY = ProfileSpec(video_codec=VideoCodec.COPY, audio_codec=AudioCodec.COPY)


@dataclass
class Tree:
    inputs: Path  # an input root
    outputs: Path  # an output root
    outside: Path  # a file in neither: the secret
    run: Path  # the run folder


@pytest.fixture
def tree(tmp_path: Path) -> Tree:
    for name in ("in", "out", "elsewhere", "run"):
        (tmp_path / name).mkdir()
    outside = tmp_path / "elsewhere" / "x.ts"
    make_video(outside, with_audio=False)
    tagged = tmp_path / "elsewhere" / "tagged.ts"
    done = run_bounded(
        ["ffmpeg", "-v", "error", "-i", str(outside), "-c", "copy", "-metadata",
         f"title={MARKER}", "-f", "mpegts", str(tagged)],
        timeout=30, confinement=Confinement(read=(str(outside),), write=(str(tagged.parent),)),
    )  # fmt: skip
    assert done[0] == 0, done[2]
    tagged.replace(outside)
    return Tree(tmp_path / "in", tmp_path / "out", outside, tmp_path / "run")


def run_job(spec: JobSpec, run: Path) -> tuple[ExitReason, list[LogEvent]]:
    events: list[LogEvent] = []
    argv = build_argv(spec, run)
    process = FFmpegProcess(
        argv, on_log=events.append, stall_timeout=None, confinement=confinement_for(spec, run)
    )
    process.start()
    return process.wait(timeout=60).reason, events


def assert_no_outside_bytes(output: Path) -> None:
    assert not output.exists() or MARKER.encode() not in output.read_bytes()


@pytest.mark.slow
def test_an_hls_playlist_in_an_input_folder_cannot_pull_in_an_outside_file(tree: Tree) -> None:
    playlist = tree.inputs / "list.m3u8"
    playlist.write_text(
        f"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:1.0,\n{tree.outside}\n#EXT-X-ENDLIST\n"
    )
    output = tree.outputs / "o.mkv"
    spec = JobSpec(input=FileInput(str(playlist)), profile=COPY, outputs=(FileOutput(str(output)),))
    reason, events = run_job(spec, tree.run)
    assert reason is ExitReason.FAILED
    assert_no_outside_bytes(output)
    assert "ffmpeg.format_not_allowed" in {e.hint_code for e in events}


@pytest.mark.slow
def test_an_ffconcat_script_named_mp4_cannot_follow_a_symlink_out(tree: Tree) -> None:
    (tree.inputs / "link.mp4").symlink_to(tree.outside)
    disguised = tree.inputs / "film.mp4"
    disguised.write_text("ffconcat version 1.0\nfile link.mp4\n")
    output = tree.outputs / "o.mkv"
    spec = JobSpec(
        input=FileInput(str(disguised)), profile=COPY, outputs=(FileOutput(str(output)),)
    )
    reason, events = run_job(spec, tree.run)
    assert reason is ExitReason.FAILED
    assert_no_outside_bytes(output)
    assert "ffmpeg.format_not_allowed" in {e.hint_code for e in events}
    with pytest.raises(ProbeError) as probed:
        probe(disguised)  # the library scan and preflight refuse it the same way
    assert probed.value.code == "probe.format_not_allowed"


@pytest.mark.slow
def test_an_ffconcat_script_in_a_playlist_cannot_follow_a_symlink_out(tree: Tree) -> None:
    (tree.inputs / "link.mp4").symlink_to(tree.outside)
    disguised = tree.inputs / "film.mp4"
    disguised.write_text("ffconcat version 1.0\nfile link.mp4\n")
    good = make_video(tree.inputs / "good.mp4", with_audio=False)
    output = tree.outputs / "o.mkv"
    spec = JobSpec(
        input=PlaylistInput((str(good), str(disguised))),
        profile=COPY,
        outputs=(FileOutput(str(output)),),
    )
    run_job(spec, tree.run)
    assert_no_outside_bytes(output)


def test_a_confined_ffmpeg_cannot_read_a_file_outside_its_roots(tree: Tree) -> None:
    confinement = Confinement(read=(str(tree.inputs),), write=(str(tree.outputs),))
    inside = tree.inputs / "x.ts"
    inside.write_bytes(tree.outside.read_bytes())
    for source, expect_ok in ((inside, True), (tree.outside, False)):
        output = tree.outputs / f"{source.parent.name}.mkv"
        argv = ["ffmpeg", "-v", "error", "-i", str(source), "-c", "copy", str(output)]
        rc, _, err = run_bounded(argv, timeout=30, confinement=confinement)
        assert (rc == 0) is expect_ok, err
    assert b"Permission denied" in err
    assert not (tree.outputs / "elsewhere.mkv").exists()


def test_a_confined_ffprobe_cannot_read_a_file_outside_its_roots(tree: Tree) -> None:
    argv = ["ffprobe", "-v", "error", "-show_format", str(tree.outside)]
    assert run_bounded(argv, timeout=30, confinement=Confinement(read=(str(tree.outside),)))[0] == 0
    rc, out, err = run_bounded(argv, timeout=30, confinement=Confinement(read=(str(tree.inputs),)))
    assert rc != 0 and MARKER.encode() not in out
    assert b"Permission denied" in err


def test_a_confined_ffmpeg_cannot_write_outside_its_output_roots(tree: Tree) -> None:
    confinement = Confinement(read=(str(tree.outside),), write=(str(tree.outputs),))
    for target, expect_ok in ((tree.outputs / "a.mkv"), True), ((tree.inputs / "a.mkv"), False):
        argv = ["ffmpeg", "-v", "error", "-y", "-i", str(tree.outside), "-c", "copy", str(target)]
        rc, _, err = run_bounded(argv, timeout=30, confinement=confinement)
        assert (rc == 0) is expect_ok, err
    assert not (tree.inputs / "a.mkv").exists()
    # Nor overwrite what it may read.
    argv = ["ffmpeg", "-v", "error", "-y", "-i", str(tree.outside), "-c", "copy", "-f",
            "mpegts", str(tree.outside)]  # fmt: skip
    before = tree.outside.read_bytes()
    assert run_bounded(argv, timeout=30, confinement=confinement)[0] != 0
    assert tree.outside.read_bytes() == before


def test_a_confined_process_cannot_read_other_processes_environments(tree: Tree) -> None:
    # /proc/<worker pid>/environ holds the worker's secrets (SECRET_KEY, Fernet keys).
    environ = f"/proc/{os.getpid()}/environ"
    argv = ["ffmpeg", "-v", "error", "-f", "data", "-i", f"file:{environ}", "-f", "null", "-"]
    rc, _, err = run_bounded(argv, timeout=30, confinement=Confinement())
    assert rc != 0 and b"Permission denied" in err


@pytest.mark.slow
def test_a_confined_job_still_writes_its_outputs_and_reads_its_run_files(tree: Tree) -> None:
    hls, recording = tree.outputs / "hls", tree.outputs / "rec" / "a.mkv"
    hls.mkdir()
    recording.parent.mkdir()  # as workdir.prepare_output_dirs does before each process
    spec = JobSpec(
        input=TestPatternInput(width=160, height=120, rate=10, duration_s=3, with_audio=True),
        profile=ProfileSpec(video_bitrate_kbps=300, keyframe_interval_s=1.0),
        outputs=(HlsOutput(str(hls), segment_seconds=1), FileOutput(str(recording))),
        overlay=OverlaySpec(text="confined"),  # drawtext reads its text file and fonts
    )
    reason, events = run_job(spec, tree.run)
    assert reason is ExitReason.COMPLETED, [e.line for e in events][-5:]
    assert (hls / "index.m3u8").exists() and list(hls.glob("segment_*.ts"))
    assert probe(recording, formats=None).has_video


def test_confining_a_process_leaves_the_callers_threads_free(tree: Tree) -> None:
    # Landlock confines the thread that starts the process; that is never the caller's.
    assert run_bounded(["ffmpeg", "-version"], timeout=30)[0] == 0
    process = FFmpegProcess(["ffmpeg", "-version"], stall_timeout=None)
    process.start()
    process.wait(timeout=30)
    (tree.run / "after.txt").write_text("still writable")
    assert Path(f"/proc/{os.getpid()}/environ").read_bytes() is not None
