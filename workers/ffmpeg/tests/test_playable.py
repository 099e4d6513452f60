"""make_playable() on Matroska files made by real ffmpeg, checked with real ffprobe."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from workers.ffmpeg.playable import PlayableError, make_playable
from workers.ffmpeg.probe import probe
from workers.ffmpeg.testing import make_audio, make_video

pytestmark = pytest.mark.slow


def mp4_boxes(path: Path) -> list[tuple[str, list[str]]]:
    """The top-level ISO BMFF boxes of a file, each with the names of its children
    when it is a moov (where a fragmented file declares mvex)."""
    data = path.read_bytes()
    boxes: list[tuple[str, list[str]]] = []
    offset = 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        header = 8
        if size == 1:
            size, header = struct.unpack(">Q", data[offset + 8 : offset + 16])[0], 16
        elif size == 0:
            size = len(data) - offset
        children: list[str] = []
        if kind == b"moov":
            inner = offset + header
            while inner + 8 <= offset + size:
                child_size, child = struct.unpack(">I4s", data[inner : inner + 8])
                children.append(child.decode("latin-1"))
                inner += child_size
        boxes.append((kind.decode("latin-1"), children))
        offset += size
    return boxes


def packet_sizes(path: Path, selector: str) -> list[int]:
    """Sizes of every packet of one stream: equal lists mean the stream was copied."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", selector, "-show_entries",
         "packet=size", "-of", "json", str(path)],
        check=True, capture_output=True, timeout=30,
    ).stdout  # fmt: skip
    return [int(p["size"]) for p in json.loads(out)["packets"]]


def assert_fragmented_mp4(path: Path) -> None:
    boxes = mp4_boxes(path)
    names = [name for name, _ in boxes]
    assert names[:2] == ["ftyp", "moov"], names  # the moov first: playable from byte 0
    assert "mvex" in dict(boxes)["moov"]  # movie extends: the samples are in fragments
    assert "moof" in names and "mfra" in names  # fragments, and their seek index


def make_engine_recording(path: Path, *, seconds: int = 4) -> Path:
    """What a stream job's recording output writes: Matroska, H.264 + AAC, a keyframe a second."""
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y",
         "-f", "lavfi", "-i", f"testsrc2=size=320x240:rate=25:d={seconds}",
         "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:d={seconds}",
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "25",
         "-c:a", "aac", "-ac", "2", "-f", "matroska", "file:" + str(path)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return path


@pytest.fixture(scope="module")
def engine_recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_engine_recording(tmp_path_factory.mktemp("playable") / "recording-000.mkv")


def test_h264_and_aac_are_copied_into_a_fragmented_mp4(
    engine_recording: Path, tmp_path: Path
) -> None:
    info = probe(engine_recording)
    out = tmp_path / "play.mp4"

    plan = make_playable(engine_recording, out, info=info, timeout=60)

    assert plan.remux_only
    result = probe(out)
    assert result.container.startswith("mov,mp4")
    assert [s.codec for s in result.video_streams] == ["h264"]
    assert [s.codec for s in result.audio_streams] == ["aac"]
    assert (result.video_streams[0].width, result.video_streams[0].height) == (320, 240)
    assert result.duration is not None and abs(result.duration - 4.0) < 0.3
    # Copied, not re-encoded: the very same packets.
    assert packet_sizes(out, "v:0") == packet_sizes(engine_recording, "v:0")
    assert packet_sizes(out, "a:0") == packet_sizes(engine_recording, "a:0")
    assert_fragmented_mp4(out)
    assert [name for name, _ in mp4_boxes(out)].count("moof") == 4  # one per keyframe
    assert sorted(p.name for p in tmp_path.iterdir()) == ["play.mp4"]  # no temporary left


def test_codecs_a_browser_cannot_play_are_transcoded_to_h264_and_aac(tmp_path: Path) -> None:
    source = make_video(tmp_path / "odd.mkv", seconds=2, codec="mpeg4", audio_codec="libopus")
    info = probe(source)
    out = tmp_path / "play.mp4"

    plan = make_playable(source, out, info=info, timeout=60)

    assert not plan.copy_video and not plan.copy_audio
    result = probe(out)
    assert [s.codec for s in result.video_streams] == ["h264"]
    assert result.video_streams[0].pix_fmt == "yuv420p"
    assert [s.codec for s in result.audio_streams] == ["aac"]
    assert_fragmented_mp4(out)


def test_only_what_needs_it_is_transcoded(tmp_path: Path) -> None:
    # H.264 video with Opus audio: the video is copied, only the audio is encoded.
    source = make_video(tmp_path / "mixed.mkv", seconds=2, codec="libx264", audio_codec="libopus")

    plan = make_playable(source, tmp_path / "play.mp4", info=probe(source), timeout=60)

    assert plan.copy_video and not plan.copy_audio
    assert packet_sizes(tmp_path / "play.mp4", "v:0") == packet_sizes(source, "v:0")


def test_an_audio_only_recording_gets_an_audio_only_copy(tmp_path: Path) -> None:
    source = make_audio(tmp_path / "voice.m4a", seconds=1)

    plan = make_playable(source, tmp_path / "play.mp4", info=probe(source), timeout=60)

    assert plan.video is None and plan.copy_audio
    result = probe(tmp_path / "play.mp4")
    assert not result.has_video and [s.codec for s in result.audio_streams] == ["aac"]


def test_a_failed_run_leaves_no_file_and_says_why(engine_recording: Path, tmp_path: Path) -> None:
    info = probe(engine_recording)
    gone = tmp_path / "gone.mkv"  # probed, then deleted before ffmpeg reads it

    with pytest.raises(PlayableError) as caught:
        make_playable(gone, tmp_path / "out" / "play.mp4", info=info, timeout=60)

    assert caught.value.code == "playable.failed"
    assert list((tmp_path / "out").iterdir()) == []


@pytest.fixture(scope="module")
def slow_to_encode(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Re-encoding this takes far longer than the tests below wait, on any machine."""
    return make_video(
        tmp_path_factory.mktemp("slow") / "long.mkv", seconds=30, codec="mpeg4", size=(640, 480)
    )


def test_a_timeout_kills_ffmpeg_and_leaves_no_file(slow_to_encode: Path, tmp_path: Path) -> None:
    info = probe(slow_to_encode)

    with pytest.raises(PlayableError) as caught:
        make_playable(slow_to_encode, tmp_path / "out" / "play.mp4", info=info, timeout=0.5)

    assert caught.value.code == "playable.timeout"
    assert list((tmp_path / "out").iterdir()) == []
    assert ffmpeg_reading(slow_to_encode) == []


def test_a_stopping_worker_interrupts_the_encode_at_once_and_leaves_nothing(
    slow_to_encode: Path, tmp_path: Path
) -> None:
    info = probe(slow_to_encode)
    asked_at = time.monotonic() + 1.0  # once ffmpeg is under way

    with pytest.raises(PlayableError) as caught:
        make_playable(
            slow_to_encode, tmp_path / "out" / "play.mp4", info=info, timeout=600,
            should_stop=lambda: time.monotonic() >= asked_at,
        )  # fmt: skip

    assert caught.value.code == "playable.interrupted"
    assert time.monotonic() - asked_at < 3  # checked every second, not at the timeout
    assert list((tmp_path / "out").iterdir()) == []
    assert ffmpeg_reading(slow_to_encode) == []


def test_ffmpeg_dies_with_a_worker_killed_mid_encode(slow_to_encode: Path, tmp_path: Path) -> None:
    script = (
        "import sys; from workers.ffmpeg.playable import make_playable;"
        " from workers.ffmpeg.probe import probe;"
        " make_playable(sys.argv[1], sys.argv[2], info=probe(sys.argv[1]), timeout=600)"
    )
    worker = subprocess.Popen(
        [sys.executable, "-c", script, str(slow_to_encode), str(tmp_path / "play.mp4")],
        cwd=Path(__file__).resolve().parents[3],
    )
    try:
        deadline = time.monotonic() + 20
        while not (encoding := ffmpeg_reading(slow_to_encode)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert encoding, "ffmpeg never started"

        worker.kill()  # kill -9: no finally, no cleanup of its own
        worker.wait(10)

        gone = psutil.wait_procs(encoding, timeout=10)[1] == []
        assert gone, "ffmpeg outlived the process that started it"
    finally:
        worker.kill()
        for process in ffmpeg_reading(slow_to_encode):
            process.kill()


def ffmpeg_reading(path: Path) -> list[psutil.Process]:
    """The ffmpeg processes (this test's, by their input path) still running."""
    found = []
    for process in psutil.process_iter(["name", "cmdline"]):
        cmdline = process.info["cmdline"] or []
        if process.info["name"] == "ffmpeg" and any(str(path) in arg for arg in cmdline):
            found.append(process)
    return found
