"""Preflight checks against real ffmpeg/ffprobe, real sockets and a real nginx-rtmp."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from workers.ffmpeg.preflight import (
    GIB,
    CheckResult,
    PreflightOptions,
    Status,
    overall,
    run_preflight,
)
from workers.ffmpeg.spec import (
    AudioCodec,
    Container,
    FileInput,
    FileOutput,
    HlsOutput,
    JobSpec,
    ProfileSpec,
    RtmpOutput,
    SrtOutput,
    TestPatternInput,
    UrlInput,
    VideoCodec,
)
from workers.ffmpeg.testing import make_video
from workers.ffmpeg.tests.rtmp_server import RtmpServer, free_port, rtmp_server_fixture  # noqa: F401

KEY = "live_0123456789abcdef"
FAST = PreflightOptions(probe_timeout_s=10, dns_timeout_s=3, connect_timeout_s=2)


def run(spec: JobSpec, options: PreflightOptions = FAST) -> dict[str, CheckResult]:
    return {check.name: check for check in run_preflight(spec, options)}


def spec_with(*outputs: object, src: object = None, **profile: object) -> JobSpec:
    return JobSpec(
        input=src or TestPatternInput(),  # type: ignore[arg-type]
        profile=ProfileSpec(**profile),  # type: ignore[arg-type]
        outputs=outputs,  # type: ignore[arg-type]
    )


def test_lavfi_to_a_file_is_all_green(tmp_path: Path) -> None:
    checks = run(spec_with(FileOutput(path=str(tmp_path / "out.mkv"))))
    assert overall(list(checks.values())) is Status.GREEN, checks
    assert checks["ffmpeg"].params["version"].startswith("5.")
    assert checks["encoders"].params["encoders"] == ["libx264", "aac"]
    assert checks["input"].params == {"kind": "test_pattern"}
    assert checks["disk.0"].code == "preflight.disk_ok"


def test_it_yields_checks_one_at_a_time(tmp_path: Path) -> None:
    checks = run_preflight(spec_with(FileOutput(path=str(tmp_path / "o.mkv"))), FAST)
    assert next(checks).name == "ffmpeg"  # a generator: the caller sees each as it completes
    assert next(checks).name == "encoders"


def test_a_missing_input_file_is_red_unreachable(tmp_path: Path) -> None:
    missing = FileInput(path=str(tmp_path / "gone.mp4"))
    check = run(spec_with(FileOutput(path=str(tmp_path / "o.mkv")), src=missing))["input"]
    assert (check.status, check.code) == (Status.RED, "preflight.input_unreachable")
    assert check.params["reason"] == "probe.not_found"


def test_a_real_input_file_is_probed(tmp_path: Path) -> None:
    media = make_video(tmp_path / "in.mp4")
    check = run(spec_with(FileOutput(path=str(tmp_path / "o.mkv")), src=FileInput(str(media))))[
        "input"
    ]
    assert check.status is Status.GREEN
    assert check.params["video_codec"] == "h264"


def test_an_input_file_that_is_a_playlist_or_concat_script_is_red(tmp_path: Path) -> None:
    # The job opens a file input with media demuxers only; preflight says so before it runs.
    outside = make_video(tmp_path / "elsewhere.ts")
    playlist = f"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:1.0,\n{outside}\n#EXT-X-ENDLIST\n"
    (tmp_path / "list.m3u8").write_text(playlist)
    (tmp_path / "film.mp4").write_text("ffconcat version 1.0\nfile elsewhere.ts\n")
    for name in ("list.m3u8", "film.mp4"):
        source = FileInput(str(tmp_path / name))
        check = run(spec_with(FileOutput(path=str(tmp_path / "o.mkv")), src=source))["input"]
        assert (check.status, check.code) == (Status.RED, "preflight.input_invalid"), name
        assert check.params["reason"] == "probe.format_not_allowed"


def test_a_closed_rtmp_port_is_red_unreachable() -> None:
    port = free_port()
    checks = run(spec_with(RtmpOutput(url=f"rtmp://127.0.0.1:{port}/live", stream_key=KEY)))
    check = checks["output.0.reachable"]
    assert (check.status, check.code) == (Status.RED, "preflight.output_unreachable")
    assert check.params["port"] == port
    assert check.params["reason"] == "refused"


def test_a_listening_rtmp_server_is_reachable(rtmp_server: RtmpServer) -> None:
    checks = run(spec_with(RtmpOutput(url=rtmp_server.app_url, stream_key=KEY)))
    assert checks["output.0.reachable"].code == "preflight.output_reachable"
    assert rtmp_server.publish_attempts == []  # a TCP connect, never a publish


def test_an_unresolvable_host_is_dns_failed() -> None:
    checks = run(spec_with(RtmpOutput(url="rtmp://something.invalid/live", stream_key=KEY)))
    check = checks["output.0.dns"]
    assert (check.status, check.code) == (Status.RED, "preflight.dns_failed")
    assert check.params["host"] == "something.invalid"
    assert "output.0.reachable" not in checks


def test_an_output_host_the_address_policy_refuses_is_never_connected_to(
    rtmp_server: RtmpServer,
) -> None:
    # The job passed the policy when saved; preflight checks what the name resolves to now.
    from workers.ffmpeg import addresses

    spec = spec_with(RtmpOutput(url=rtmp_server.app_url, stream_key=KEY))
    assert run(spec)["output.0.reachable"].code == "preflight.output_reachable"
    strict = dataclasses.replace(FAST, addresses=addresses.AddressPolicy(allow_private=False))
    checks = run(spec, strict)  # the server is on loopback: refused with the private ranges
    check = checks["output.0.dns"]
    assert (check.status, check.code) == (Status.RED, "preflight.address_not_allowed")
    assert check.params["reason"] == "local"
    assert "output.0.reachable" not in checks


def test_srt_outputs_are_only_resolved() -> None:
    checks = run(spec_with(SrtOutput(url="srt://127.0.0.1:9", passphrase="a-long-passphrase")))
    assert checks["output.0.dns"].status is Status.GREEN
    assert "output.0.reachable" not in checks


def test_a_blank_stream_key_is_red() -> None:
    checks = run(spec_with(RtmpOutput(url="rtmp://127.0.0.1:1/live", stream_key="   ")))
    assert checks["output.0.stream_key"].code == "preflight.stream_key_missing"


@pytest.mark.parametrize(
    ("profile", "output", "codec"),
    [
        (
            {"audio_codec": AudioCodec.LIBOPUS},
            RtmpOutput(url="rtmp://127.0.0.1:1/a", stream_key=KEY),
            "opus",
        ),
        (
            {"video_codec": VideoCodec.LIBX265},
            RtmpOutput(url="rtmp://127.0.0.1:1/a", stream_key=KEY),
            "hevc",
        ),
        (
            {"audio_codec": AudioCodec.LIBMP3LAME},
            HlsOutput(directory="/tmp/castcore-hls-test"),
            "mp3",
        ),
        ({"audio_codec": AudioCodec.LIBOPUS}, FileOutput("/tmp/x.mov", Container.MOV), "opus"),
    ],
)
def test_codec_container_mismatches_are_red(
    profile: dict[str, object], output: object, codec: str
) -> None:
    check = run(spec_with(output, **profile))["output.0.codecs"]
    assert (check.status, check.code) == (Status.RED, "preflight.codec_container_mismatch")
    assert check.params["codec"] == codec


def test_copying_a_probed_hevc_file_into_flv_is_red(tmp_path: Path) -> None:
    media = make_video(tmp_path / "in.mkv", codec="libx265")
    spec = spec_with(
        RtmpOutput(url="rtmp://127.0.0.1:1/live", stream_key=KEY),
        src=FileInput(str(media)),
        video_codec=VideoCodec.COPY,
    )
    check = run(spec)["output.0.codecs"]
    assert check.code == "preflight.codec_container_mismatch"
    assert check.params["video_codec"] == "hevc"


def test_disk_thresholds(tmp_path: Path) -> None:
    spec = spec_with(HlsOutput(directory=str(tmp_path / "hls")))
    red = run(spec, PreflightOptions(disk_red_bytes=1 << 62, disk_yellow_bytes=1 << 63))["disk.0"]
    yellow = run(spec, PreflightOptions(disk_red_bytes=0, disk_yellow_bytes=1 << 62))["disk.0"]
    assert (red.status, red.code) == (Status.RED, "preflight.disk_low")
    assert (yellow.status, yellow.code) == (Status.YELLOW, "preflight.disk_low")
    assert red.params["free_bytes"] > 0
    assert PreflightOptions().disk_red_bytes == GIB


def test_secrets_never_reach_params_or_messages() -> None:
    secret = "s3cr3t-stream-key-987"
    url_input = UrlInput(url=f"rtmp://127.0.0.1:{free_port()}/live/{secret}")
    spec = spec_with(
        RtmpOutput(url="rtmp://something.invalid/live", stream_key=secret),
        src=url_input,
    )
    checks = list(run_preflight(spec, FAST))
    assert checks
    for check in checks:
        assert secret not in repr(check.to_dict())
