"""Log classification: every hint is checked on a line real ffmpeg printed here."""

from __future__ import annotations

import http.server
import os
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from workers.ffmpeg.logs import LogClassifier, LogEvent, LogLevel, classify_line, parse_line
from workers.ffmpeg.tests.rtmp_server import RtmpServer, free_port, rtmp_server_fixture  # noqa: F401

LAVFI = ["-f", "lavfi", "-i", "testsrc=size=160x120:rate=10:duration=1"]


def ffmpeg_events(*args: str, secrets: tuple[str, ...] = ()) -> list[LogEvent]:
    result = subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostdin", "-nostats", "-loglevel", "level+info", *args],
        capture_output=True,
        text=True,
        timeout=30,
    )
    classifier = LogClassifier(secrets)
    return [classifier.classify(line) for line in result.stderr.splitlines()]


def hint_codes(events: list[LogEvent]) -> set[str]:
    return {e.hint_code for e in events if e.hint_code}


def test_it_splits_component_level_and_message() -> None:
    event = parse_line(
        "[tcp @ 0x55d0c0ffee00] [error] Connection to tcp://x failed: Connection refused"
    )
    assert (event.component, event.level) == ("tcp", LogLevel.ERROR)
    assert event.message == "Connection to tcp://x failed: Connection refused"
    assert parse_line("[warning] plain").level is LogLevel.WARNING
    assert parse_line("no prefix at all").level is LogLevel.INFO


def test_connection_refused(tmp_path: Path) -> None:
    events = ffmpeg_events(*LAVFI, "-f", "flv", f"rtmp://127.0.0.1:{free_port()}/live/k")
    assert "ffmpeg.connection_refused" in hint_codes(events)
    assert "ffmpeg.stream_key_rejected" not in hint_codes(events)


def test_dns_failure() -> None:
    events = ffmpeg_events(*LAVFI, "-f", "flv", "rtmp://no-such-host.invalid/live/k")
    assert "ffmpeg.dns_failure" in hint_codes(events)
    assert "ffmpeg.stream_key_rejected" not in hint_codes(events)


def test_input_not_found(tmp_path: Path) -> None:
    events = ffmpeg_events("-i", f"file:{tmp_path}/nope.mp4", "-f", "null", "-")
    assert "ffmpeg.input_not_found" in hint_codes(events)


def test_permission_denied() -> None:
    # root reads anything, so run ffmpeg as `nobody` then; otherwise mode 000 suffices.
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o755)  # noqa: S103 (`nobody` must reach the file to be refused)
        locked = Path(tmp) / "locked.mp4"
        locked.write_bytes(b"x")
        locked.chmod(0)
        result = subprocess.run(
            [
                "ffmpeg",
                "-hide_banner",
                "-nostdin",
                "-loglevel",
                "level+info",
                "-i",
                f"file:{locked}",
                "-f",
                "null",
                "-",
            ],
            capture_output=True,
            text=True,
            timeout=30,
            user=65534 if os.geteuid() == 0 else None,
        )
    events = [classify_line(line) for line in result.stderr.splitlines()]
    assert "ffmpeg.permission_denied" in hint_codes(events)


def test_invalid_data(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x13\x37not media" * 200)
    assert "ffmpeg.invalid_data" in hint_codes(
        ffmpeg_events("-i", f"file:{junk}", "-f", "null", "-")
    )


def test_codec_not_supported_by_container(tmp_path: Path) -> None:
    events = ffmpeg_events(
        "-f",
        "lavfi",
        "-i",
        "sine=duration=0.5",
        "-c:a",
        "libopus",
        "-f",
        "flv",
        f"file:{tmp_path}/o.flv",
    )
    assert "ffmpeg.codec_not_supported_by_container" in hint_codes(events)


def test_protocol_not_on_whitelist() -> None:
    events = ffmpeg_events(
        "-protocol_whitelist", "file", "-i", "http://127.0.0.1:1/x.ts", "-f", "null", "-"
    )
    assert "ffmpeg.protocol_not_whitelisted" in hint_codes(events)


def test_non_monotonic_timestamps(tmp_path: Path) -> None:
    source = tmp_path / "a.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", *LAVFI, "-c:v", "libx264", f"file:{source}"], check=True
    )
    # setts rewrites packet 5's timestamp to 0: a backwards jump, as at a bad splice.
    events = ffmpeg_events(
        "-i",
        f"file:{source}",
        "-c",
        "copy",
        "-bsf:v",
        r"setts=ts=if(eq(N\,5)\,0\,TS)",
        "-f",
        "flv",
        "-y",
        f"file:{tmp_path}/o.flv",
    )
    assert "ffmpeg.non_monotonic_timestamps" in hint_codes(events)


def test_broken_pipe() -> None:
    proc = subprocess.Popen(
        [
            "ffmpeg",
            "-hide_banner",
            "-nostdin",
            "-nostats",
            "-loglevel",
            "level+info",
            "-re",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=160x120:rate=25:duration=3",
            "-f",
            "mpegts",
            "pipe:1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=False,
    )
    assert proc.stdout is not None
    proc.stdout.read(1000)
    proc.stdout.close()  # the reader goes away mid-stream
    _, stderr = proc.communicate(timeout=10)
    events = [classify_line(line) for line in stderr.decode().splitlines()]
    assert "ffmpeg.connection_lost" in hint_codes(events)


@pytest.fixture
def http_server() -> Iterator[int]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(int(self.path.strip("/").split(".")[0]))
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (401, "ffmpeg.http_auth_failed"),
        (403, "ffmpeg.http_auth_failed"),
        (404, "ffmpeg.http_not_found"),
        (503, "ffmpeg.http_server_error"),
    ],
)
def test_http_errors(http_server: int, status: int, code: str) -> None:
    url = f"http://127.0.0.1:{http_server}/{status}.ts"
    assert code in hint_codes(
        ffmpeg_events("-protocol_whitelist", "http,tcp", "-i", url, "-f", "null", "-")
    )


@pytest.mark.slow
def test_rejected_stream_key_is_recognised_and_masked(rtmp_server: RtmpServer) -> None:
    key = "wrong-key-123456"
    events = ffmpeg_events(
        *LAVFI, "-c:v", "libx264", "-f", "flv", rtmp_server.publish_url(key), secrets=(key,)
    )
    rejected = [e for e in events if e.hint_code == "ffmpeg.stream_key_rejected"]
    assert len(rejected) == 1
    # What ffmpeg 5.1 prints when nginx-rtmp's on_publish answers 403:
    assert rejected[0].message == f"{rtmp_server.app_url}/••••3456: Input/output error"
    assert rtmp_server.publish_attempts == [key]
    assert all(key not in e.line for e in events)


def test_server_error_lines_from_other_ingests_mean_a_bad_key() -> None:
    line = "[rtmp @ 0x5566] [error] Server error: NetStream.Publish.BadName"
    assert classify_line(line).hint_code == "ffmpeg.stream_key_rejected"
