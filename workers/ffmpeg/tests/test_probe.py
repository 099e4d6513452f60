"""probe() against real files made by ffmpeg; no ffprobe doubles."""

from __future__ import annotations

import asyncio
import functools
import http.server
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from workers.ffmpeg.probe import (
    ProbeError,
    ProbeResult,
    StreamType,
    aprobe,
    parse_frame_rate,
    probe,
)
from workers.ffmpeg.testing import (
    make_audio,
    make_corrupt,
    make_text_named_mp4,
    make_video,
    make_zero_byte,
)


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("probe")
    make_video(root / "h264.mp4", language="eng", faststart=True)
    make_video(root / "ntsc.mkv", rate="30000/1001", with_audio=False)
    make_video(root / "vp9.webm")
    make_video(root / "mpeg4.avi")
    make_video(root / "stream.ts")
    make_audio(root / "tone.flac", sample_rate=44100, channels=1)
    return root


def test_it_reports_container_and_every_stream_field(media: Path) -> None:
    result = probe(media / "h264.mp4", timeout=10)

    assert result.container.startswith("mov,mp4")
    assert result.duration == pytest.approx(1.0, abs=0.1)
    assert result.size == (media / "h264.mp4").stat().st_size
    assert result.bitrate
    assert result.bitrate > 0
    video, audio = result.streams
    assert (video.index, video.type, video.codec) == (0, StreamType.VIDEO, "h264")
    assert video.profile == "Constrained Baseline"
    assert (video.width, video.height, video.frame_rate) == (160, 120, 15.0)
    assert video.pix_fmt == "yuv420p"
    assert (video.channels, video.sample_rate) == (None, None)
    assert (audio.type, audio.codec, audio.profile) == (StreamType.AUDIO, "aac", "LC")
    assert (audio.channels, audio.sample_rate, audio.language) == (2, 48000, "eng")
    assert audio.width is None
    assert result.has_video


@pytest.mark.parametrize(
    ("name", "container", "codecs"),
    [
        ("ntsc.mkv", "matroska,webm", ["h264"]),
        ("vp9.webm", "matroska,webm", ["vp9", "opus"]),
        ("mpeg4.avi", "avi", ["mpeg4", "mp3"]),
        ("stream.ts", "mpegts", ["h264", "aac"]),
        ("tone.flac", "flac", ["flac"]),
    ],
)
def test_it_reads_other_containers_and_codecs(
    media: Path, name: str, container: str, codecs: list[str]
) -> None:
    result = probe(media / name, timeout=10)
    assert result.container == container
    assert [s.codec for s in result.streams] == codecs


def test_it_parses_fractional_frame_rates(media: Path) -> None:
    assert probe(media / "ntsc.mkv", timeout=10).streams[0].frame_rate == 29.97


def test_audio_only_file_has_no_video(media: Path) -> None:
    result = probe(media / "tone.flac", timeout=10)
    assert not result.has_video
    assert (result.streams[0].channels, result.streams[0].sample_rate) == (1, 44100)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("30000/1001", 29.97), ("25/1", 25.0), ("0/0", None), ("", None), ("x/y", None)],
)
def test_parse_frame_rate(value: str, expected: float | None) -> None:
    assert parse_frame_rate(value) == expected


@pytest.mark.parametrize(
    "name",
    ["-rf.mp4", "-i.mp4", 'it\'s "quoted".mp4', "café 東京.mp4", "a:b.mp4", "100%d $x ?#.mp4"],
)
def test_hostile_names_are_probed_as_plain_files(media: Path, tmp_path: Path, name: str) -> None:
    target = tmp_path / name
    target.write_bytes((media / "h264.mp4").read_bytes())
    assert probe(target, timeout=10).streams[0].codec == "h264"


def test_relative_path_starting_with_dash_is_a_file_not_an_option(
    media: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "-show_entries.mp4").write_bytes((media / "h264.mp4").read_bytes())
    monkeypatch.chdir(tmp_path)
    assert probe("-show_entries.mp4", timeout=10).container.startswith("mov")


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (make_zero_byte, "probe.empty"),
        (make_text_named_mp4, "probe.invalid_data"),
        (make_corrupt, "probe.invalid_data"),
        (functools.partial(make_corrupt, mode="truncated"), "probe.invalid_data"),
    ],
)
def test_broken_files_raise_coded_errors(tmp_path: Path, make: object, code: str) -> None:
    target = tmp_path / "broken.mp4"
    make(target)  # type: ignore[operator]
    with pytest.raises(ProbeError) as exc:
        probe(target, timeout=10)
    assert exc.value.code == code
    assert exc.value.to_dict()["code"] == code


def test_missing_file_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(ProbeError) as exc:
        probe(tmp_path / "nope.mp4", timeout=10)
    assert exc.value.code == "probe.not_found"


def test_fifo_is_refused_instead_of_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.mp4"
    os.mkfifo(fifo)
    with pytest.raises(ProbeError) as exc:
        probe(fifo, timeout=5)
    assert exc.value.code == "probe.not_regular_file"


def test_a_playlist_disguised_as_mp4_is_refused_by_the_demuxer_allow_list(
    tmp_path: Path, media: Path
) -> None:
    playlist = tmp_path / "sneaky.mp4"
    playlist.write_text(
        f"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\n{media / 'stream.ts'}\n#EXT-X-ENDLIST\n"
    )
    with pytest.raises(ProbeError) as exc:
        probe(playlist, timeout=10)
    assert exc.value.code == "probe.format_not_allowed"


def test_url_scheme_outside_the_whitelist_is_refused() -> None:
    with pytest.raises(ProbeError) as exc:
        probe("ftp://127.0.0.1/x.mp4", timeout=5)
    assert exc.value.code == "probe.protocol_not_allowed"
    with pytest.raises(ProbeError) as exc:
        probe("http://127.0.0.1/x.mp4", timeout=5, protocols=("file",))
    assert exc.value.code == "probe.protocol_not_allowed"


@pytest.fixture
def http_root(media: Path) -> Iterator[str]:
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(media))

    class Quiet(http.server.ThreadingHTTPServer):
        def handle_error(self, request: object, client_address: object) -> None:
            pass  # ffprobe may hang up early; not a test failure

    server = Quiet(("127.0.0.1", 0), handler)
    server.RequestHandlerClass.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_it_probes_a_url_with_the_remote_protocols(http_root: str) -> None:
    result = probe(f"{http_root}/h264.mp4", timeout=10)
    assert [s.codec for s in result.streams] == ["h264", "aac"]


def test_timeout_kills_ffprobe() -> None:
    # A server that accepts TCP but never answers: ffprobe waits forever.
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(ProbeError) as exc:
            probe(f"http://127.0.0.1:{port}/slow.mp4", timeout=1.0)
        assert exc.value.code == "probe.timeout"
        assert time.monotonic() - started < 5
        # The killed process closed its end: we read its request, then EOF.
        conn, _ = server.accept()
        conn.settimeout(5)
        received = b""
        while chunk := conn.recv(4096):
            received += chunk
        conn.close()
        assert received.startswith(b"GET /slow.mp4")


def test_result_round_trips_through_a_dict(media: Path) -> None:
    result = probe(media / "h264.mp4", timeout=10)
    assert ProbeResult.from_dict(result.to_dict()) == result


def test_aprobe_runs_from_async_code(media: Path) -> None:
    async def both() -> list[ProbeResult]:
        return list(
            await asyncio.gather(
                aprobe(media / "h264.mp4", timeout=10), aprobe(media / "vp9.webm", timeout=10)
            )
        )

    first, second = asyncio.run(both())
    assert (first.streams[0].codec, second.streams[0].codec) == ("h264", "vp9")
