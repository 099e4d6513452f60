"""argv builder: properties over hostile input, masking, preview warnings, real ffmpeg runs."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workers.ffmpeg.argv import (
    BASE_ARGS,
    PlatformRule,
    build_argv,
    mask_argv,
    output_url,
    preview_warnings,
)
from workers.ffmpeg.checks import SpecError
from workers.ffmpeg.spec import (
    AudioCodec,
    Container,
    FileInput,
    FileOutput,
    HlsOutput,
    InputSpec,
    JobSpec,
    OutputSpec,
    OverlaySpec,
    PlaylistInput,
    ProfileSpec,
    RateControl,
    RtmpOutput,
    SrtOutput,
    TestPatternInput,
    UdpOutput,
    VideoCodec,
)
from workers.ffmpeg.tests.rtmp_server import RtmpServer, free_port, rtmp_server_fixture  # noqa: F401

SMALL = ProfileSpec(video_bitrate_kbps=300, width=160, height=120, fps=10, keyframe_interval_s=1)

# Every option name build_argv may emit. Anything else starting with "-" came from a user.
KNOWN_OPTIONS = {
    *(a for a in BASE_ARGS if a.startswith("-")),
    "-re",
    "-f",
    "-i",
    "-stream_loop",
    "-ss",
    "-protocol_whitelist",
    "-format_whitelist",
    "-rw_timeout",
    "-safe",
    "-vf",
    "-c:v",
    "-preset",
    "-tune",
    "-profile:v",
    "-level:v",
    "-pix_fmt",
    "-b:v",
    "-minrate",
    "-maxrate",
    "-bufsize",
    "-crf",
    "-force_key_frames",
    "-g",
    "-sc_threshold",
    "-c:a",
    "-b:a",
    "-ar",
    "-ac",
    "-an",
    "-map",
    "-metadata",
    "-flags:v",
    "-flags:a",
    "-flvflags",
    "-hls_time",
    "-hls_list_size",
    "-hls_flags",
    "-hls_segment_filename",
    "-vaapi_device",
    "-1",
}


# ------------------------------------------------------------ a tee-spec oracle


def av_get_token(text: str, pos: int, term: str) -> tuple[str, int]:
    """A test-side model of libavutil's av_get_token, to check our escaping."""
    while pos < len(text) and text[pos] in " \n\t\r":
        pos += 1
    out: list[str] = []
    end = 0
    while pos < len(text) and text[pos] not in term:
        char = text[pos]
        pos += 1
        if char == "\\" and pos < len(text):
            out.append(text[pos])
            pos += 1
            end = len(out)
        elif char == "'":
            while pos < len(text) and text[pos] != "'":
                out.append(text[pos])
                pos += 1
            if pos < len(text):
                pos += 1
                end = len(out)
        else:
            out.append(char)
    while len(out) > end and out[-1] in " \n\t\r":
        out.pop()
    return "".join(out), pos


def parse_tee(spec: str) -> list[tuple[dict[str, str], str]]:
    slaves = []
    pos = 0
    while pos < len(spec):
        slave, pos = av_get_token(spec, pos, "|")
        pos += 1 if pos < len(spec) else 0
        assert slave.startswith("[")
        options: dict[str, str] = {}
        inner = 1
        while True:
            key_end = slave.index("=", inner)
            key = slave[inner:key_end]
            value, inner = av_get_token(slave, key_end + 1, ":]")
            options[key] = value
            if slave[inner] == "]":
                break
            inner += 1
        slaves.append((options, slave[inner + 1 :]))
    return slaves


# ------------------------------------------------------------ properties

hostile_chars = st.sampled_from(list("-|[]:\\'\"=,; \t\n%$`&?#/@.aZ9é€😀"))
hostile = st.text(alphabet=hostile_chars, min_size=1, max_size=24) | st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00•"),
    min_size=1,
    max_size=24,
)
secret = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00•"),
    min_size=8,
    max_size=40,
)


@st.composite
def hostile_specs(draw: st.DrawFn) -> JobSpec:
    outputs: list[OutputSpec] = [
        RtmpOutput(url="rtmp://ingest.example.com/live", stream_key=draw(secret)),
        FileOutput(path="/rec/" + draw(hostile)),
        HlsOutput(directory="/hls/" + draw(hostile).replace("%", "")),
        SrtOutput(
            url="srt://127.0.0.1:9000?mode=caller",
            passphrase=draw(secret.filter(lambda s: 10 <= len(s) <= 79)),
        ),
        RtmpOutput(url="rtmps://ingest.example.com:443/app", stream_key=draw(secret)),
        UdpOutput(url="udp://127.0.0.1:1234"),
    ]
    chosen = draw(st.lists(st.sampled_from(outputs), min_size=1, max_size=4, unique_by=id))
    sources: list[InputSpec] = [
        FileInput(path="/" + draw(hostile)),
        FileInput(path="/media/-" + draw(hostile)),
        PlaylistInput(paths=tuple("/m/" + draw(hostile) for _ in range(3))),
        TestPatternInput(duration_s=1),
    ]
    source = draw(st.sampled_from(sources))
    return JobSpec(
        input=source,
        profile=ProfileSpec(),
        outputs=tuple(chosen),
        title=draw(st.none() | hostile),
        overlay=draw(st.none() | st.builds(OverlaySpec, text=hostile)),
        loop=draw(st.booleans()),
        start_offset_s=draw(st.sampled_from([0.0, 12.5])),
    )


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=hostile_specs())
def test_user_values_stay_single_elements_and_masking_hides_secrets(
    spec: JobSpec, tmp_path_factory: pytest.TempPathFactory
) -> None:
    workdir = tmp_path_factory.getbasetemp() / "prop"
    argv = build_argv(spec, workdir)

    assert isinstance(argv, list)
    assert all(isinstance(a, str) and "\x00" not in a for a in argv)
    for arg in argv:
        assert not arg.startswith("-") or arg in KNOWN_OPTIONS, arg
    if isinstance(spec.input, FileInput):
        assert argv[argv.index("-i") + 1] == "file:" + os.path.abspath(spec.input.path)
    if spec.title is not None:
        assert argv.count(f"title={spec.title}") == 1
    outputs = spec.enabled_outputs
    if len(outputs) == 1:
        assert argv[-1] == output_url(outputs[0])
    else:
        assert argv[-2:-1] == ["tee"]
        slaves = parse_tee(argv[-1])
        assert [url for _, url in slaves] == [output_url(o) for o in outputs]
        assert all(options["onfail"] == "ignore" for options, _ in slaves)
        for (options, _), output in zip(slaves, outputs, strict=True):
            if isinstance(output, HlsOutput):
                assert options["hls_segment_filename"] == os.path.join(
                    os.path.abspath(output.directory), "segment_%05d.ts"
                )
    masked = mask_argv(argv, spec.secrets())
    assert len(masked) == len(argv)
    for value in spec.secrets():
        assert not any(value in arg for arg in masked)


def test_mask_shows_only_the_last_four_characters_of_long_secrets() -> None:
    argv = ["ffmpeg", "rtmp://a/live/live_123456789_abcd", "x"]
    assert mask_argv(argv, ["live_123456789_abcd"]) == ["ffmpeg", "rtmp://a/live/••••abcd", "x"]
    assert mask_argv(["k=short"], ["short"]) == ["k=••••"]
    # Masking once would leave "••••abcd" + "abcdabcd", which spells the secret again.
    assert mask_argv(["abcd" * 5], ["abcd" * 3]) == ["••••••••abcd"]


def test_concat_list_is_safe_mode_relative_and_points_at_the_real_files(tmp_path: Path) -> None:
    paths = ("/m/it's a -file|[1].mp4", "/m/new\nline.mkv", "/m/no_ext")
    spec = JobSpec(
        input=PlaylistInput(paths=paths), profile=SMALL, outputs=(FileOutput(path="/o.mkv"),)
    )
    argv = build_argv(spec, tmp_path)
    assert argv[argv.index("-safe") + 1] == "1"
    lines = (tmp_path / "playlist.txt").read_text().splitlines()
    assert lines == [
        "ffconcat version 1.0",
        "file 'media/00000.mp4'",
        "file 'media/00001.mkv'",
        "file 'media/00002'",
    ]
    assert [os.readlink(tmp_path / "media" / n) for n in ("00000.mp4", "00001.mkv", "00002")] == [
        *paths
    ]


def test_input_whitelists_match_the_input_kind(tmp_path: Path) -> None:
    from workers.ffmpeg.spec import UrlInput

    def whitelist(url: str) -> str:
        spec = JobSpec(input=UrlInput(url=url), profile=SMALL, outputs=(FileOutput(path="/o.mkv"),))
        argv = build_argv(spec, tmp_path)
        return argv[argv.index("-protocol_whitelist") + 1]

    assert whitelist("rtmp://h/app/k") == "rtmp,tcp"
    assert whitelist("srt://h:9000") == "srt,udp"
    # Through the egress proxy, whose CONNECT for https is ffmpeg's httpproxy protocol.
    assert whitelist("https://h/live/index.m3u8") == "hls,http,https,tcp,tls,crypto,httpproxy"
    assert "file" not in whitelist("http://h/a.ts")


def test_http_inputs_go_through_the_given_proxy_and_others_do_not(tmp_path: Path) -> None:
    from workers.ffmpeg.spec import UrlInput

    def proxy(url: str) -> str | None:
        spec = JobSpec(input=UrlInput(url=url), profile=SMALL, outputs=(FileOutput(path="/o.mkv"),))
        argv = build_argv(spec, tmp_path, http_proxy="http://127.0.0.1:9")
        if "-http_proxy" not in argv:
            return None
        at = argv.index("-http_proxy")
        assert argv[at + 2 : at + 4] == ["-i", url]  # an input option of that input
        return argv[at + 1]

    assert proxy("http://h/a.ts") == "http://127.0.0.1:9"
    assert proxy("https://h/live/index.m3u8") == "http://127.0.0.1:9"
    assert proxy("rtmp://h/app/k") is None
    assert proxy("srt://h:9000") is None


# ------------------------------------------------------------ preview warnings


# The engine takes platform rules as data; these stand in for the catalogue's
# (apps/integrations/platforms/catalogue.py), which test_platform_catalogue checks.
RULES = (
    PlatformRule("youtube", ("youtube.com",), 2.0, ((720, 6000), (1080, 9000))),
    PlatformRule("twitch", ("twitch.tv",), 2.0, ((720, 4500), (4320, 6000))),
    PlatformRule("facebook", ("facebook.com",), 2.0, ((720, 4000), (4320, 9000)), True),
)


def _codes(spec: JobSpec) -> set[str]:
    return {w.code for w in preview_warnings(spec, None, RULES)}


def test_preview_warns_about_platform_keyframes_and_bitrate() -> None:
    profile = ProfileSpec(video_bitrate_kbps=8000, height=720, width=1280, keyframe_interval_s=4)
    spec = JobSpec(
        input=TestPatternInput(),
        profile=profile,
        outputs=(RtmpOutput(url="rtmp://live.twitch.tv/app", stream_key="live_1234567890"),),
    )
    warnings = preview_warnings(spec, None, RULES)
    assert {w.code for w in warnings} == {
        "preview.keyframe_interval",
        "preview.bitrate_above_platform_max",
    }
    bitrate = next(w for w in warnings if w.code == "preview.bitrate_above_platform_max")
    assert bitrate.params == {
        "output": 0,
        "platform": "twitch",
        "bitrate_kbps": 8000,
        "max_kbps": 4500,
        "height": 720,
    }
    assert all("live_1234567890" not in w.message + str(w.params) for w in warnings)


def test_preview_is_quiet_for_a_good_youtube_profile() -> None:
    profile = ProfileSpec(video_bitrate_kbps=4500, height=720, width=1280)
    out = RtmpOutput(url="rtmp://a.rtmp.youtube.com/live2", stream_key="abcd-efgh")
    assert _codes(JobSpec(input=TestPatternInput(), profile=profile, outputs=(out,))) == set()


def test_preview_flags_codec_container_sample_rate_filters_and_rtmps() -> None:
    opus = ProfileSpec(audio_codec=AudioCodec.LIBOPUS, audio_sample_rate=32000)
    fb = RtmpOutput(url="rtmp://live-api-s.facebook.com:80/rtmp", stream_key="k")
    codes = _codes(JobSpec(input=TestPatternInput(), profile=opus, outputs=(fb,)))
    assert codes == {
        "preview.codec_not_allowed_in_container",
        "preview.audio_sample_rate",
        "preview.rtmps_required",
        "preview.platform_codec",
        "preview.platform_audio_sample_rate",
    }
    copy = ProfileSpec(video_codec=VideoCodec.COPY, width=1280, height=720)
    out = FileOutput(path="/x.mkv")
    assert _codes(JobSpec(input=TestPatternInput(), profile=copy, outputs=(out,))) == {
        "preview.filters_with_copy"
    }
    hevc = ProfileSpec(video_codec=VideoCodec.LIBX265, rate_control=RateControl.CRF, crf=28)
    rtmp = RtmpOutput(url="rtmp://127.0.0.1/live", stream_key="k")
    assert "preview.codec_not_allowed_in_container" in _codes(
        JobSpec(input=TestPatternInput(), profile=hevc, outputs=(rtmp,))
    )


# ------------------------------------------------------------ real ffmpeg


def ffprobe(target: str, *options: str) -> Any:
    result = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            *options,
            "-show_streams",
            "-show_format",
            "-of",
            "json",
            target,
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return json.loads(result.stdout)


def codecs(probe: Any) -> list[str]:
    return sorted(s["codec_name"] for s in probe["streams"])


def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    return result


def test_single_file_output_is_scaled_titled_and_keyframed(tmp_path: Path) -> None:
    out = tmp_path / "-rec |[x]'.mkv"
    spec = JobSpec(
        input=TestPatternInput(width=320, height=240, rate=10, duration_s=3),
        profile=SMALL,
        outputs=(FileOutput(path=str(out)),),
        overlay=OverlaySpec(text="%{localtime} 'quoted': [x]"),
        title="-t 'Title' | [x]",
    )
    result = run(build_argv(spec, tmp_path / "work"))
    assert "progress=end" in result.stdout  # -progress pipe:1 reports on stdout
    probe = ffprobe("file:" + str(out))
    assert codecs(probe) == ["aac", "h264"]
    video = next(s for s in probe["streams"] if s["codec_type"] == "video")
    assert (video["width"], video["height"]) == (160, 120)
    assert probe["format"]["tags"]["title"] == "-t 'Title' | [x]"
    keys = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-select_streams",
            "v",
            "-skip_frame",
            "nokey",
            "-show_entries",
            "frame=pts_time",
            "-of",
            "csv=p=0",
            "file:" + str(out),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert [round(float(t.strip(","))) for t in keys] == [0, 1, 2]


def test_tee_writes_every_target_with_hostile_names(tmp_path: Path) -> None:
    weird = tmp_path / "d |[a]:b\\c'd,e;f"
    (weird / "hls").mkdir(parents=True)
    first, second = weird / "-one |x.mkv", weird / "two'[].ts"
    spec = JobSpec(
        input=TestPatternInput(width=160, height=120, rate=10, duration_s=2),
        profile=SMALL,
        outputs=(
            FileOutput(path=str(first)),
            FileOutput(path=str(second), container=Container.MPEGTS),
            HlsOutput(directory=str(weird / "hls"), segment_seconds=1),
            FileOutput(path=str(tmp_path / "disabled.mkv"), enabled=False),
        ),
    )
    run(build_argv(spec, tmp_path / "work"))
    assert codecs(ffprobe("file:" + str(first))) == ["aac", "h264"]
    assert codecs(ffprobe("file:" + str(second))) == ["aac", "h264"]
    assert codecs(ffprobe("file:" + str(weird / "hls" / "index.m3u8"))) == ["aac", "h264"]
    assert sorted(p.name for p in (weird / "hls").glob("segment_*.ts"))[0] == "segment_00000.ts"
    assert not (tmp_path / "disabled.mkv").exists()


def test_playlist_plays_files_with_hostile_names_under_safe_mode(tmp_path: Path) -> None:
    sources = [tmp_path / "-a 'b'|c.mkv", tmp_path / "new\nline [2].mkv"]
    for source in sources:
        run(
            [
                "ffmpeg",
                "-v",
                "error",
                "-f",
                "lavfi",
                "-i",
                "testsrc=size=160x120:rate=10:duration=1",
                "-c:v",
                "libx264",
                "file:" + str(source),
            ]
        )
    out = tmp_path / "joined.mkv"
    spec = JobSpec(
        input=PlaylistInput(paths=tuple(str(s) for s in sources)),
        profile=ProfileSpec(video_codec=VideoCodec.COPY, audio_codec=AudioCodec.NONE),
        outputs=(FileOutput(path=str(out)),),
    )
    run(build_argv(spec, tmp_path / "work"))
    duration = float(ffprobe("file:" + str(out))["format"]["duration"])
    assert 1.8 <= duration <= 2.3


# ------------------------------------------------------------ real RTMP (nginx-rtmp)


def probe_while_publishing(argv: list[str], url: str) -> tuple[Any, int]:
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1.0)
        # A short analysis window: the live stream only lasts a few seconds.
        probe = ffprobe(url, "-analyzeduration", "1000000", "-rw_timeout", "5000000")
    finally:
        proc.communicate(timeout=30)
    return probe, proc.returncode


@pytest.mark.slow
def test_publishes_to_rtmp_and_the_stream_can_be_probed(
    rtmp_server: RtmpServer, tmp_path: Path
) -> None:
    spec = JobSpec(
        input=TestPatternInput(width=160, height=120, rate=10, duration_s=4),
        profile=SMALL,
        outputs=(RtmpOutput(url=rtmp_server.app_url, stream_key="goodkey"),),
        realtime=True,
    )
    probe, returncode = probe_while_publishing(
        build_argv(spec, tmp_path), rtmp_server.publish_url("goodkey")
    )
    assert codecs(probe) == ["aac", "h264"]
    assert returncode == 0
    assert rtmp_server.publish_attempts == ["goodkey"]


@pytest.mark.slow
def test_tee_keeps_sending_to_good_target_when_another_fails(
    rtmp_server: RtmpServer, tmp_path: Path
) -> None:
    closed = f"rtmp://127.0.0.1:{free_port()}/live"
    spec = JobSpec(
        input=TestPatternInput(width=160, height=120, rate=10, duration_s=4),
        profile=SMALL,
        outputs=(
            RtmpOutput(url=closed, stream_key="dead|key[0]"),
            RtmpOutput(url=rtmp_server.app_url, stream_key="goodkey"),
        ),
        realtime=True,
    )
    probe, returncode = probe_while_publishing(
        build_argv(spec, tmp_path), rtmp_server.publish_url("goodkey")
    )
    assert codecs(probe) == ["aac", "h264"]
    assert returncode == 0


def test_a_resumed_input_starts_within_its_current_pass_and_item() -> None:
    from workers.ffmpeg.spec import resume_point

    two = PlaylistInput(paths=("/m/a.mp4", "/m/b.mp4"), durations=(2.0, 2.5))

    def start(src: InputSpec, played: float, *, loop: bool = True) -> tuple[int | None, float]:
        source, offset = resume_point(src, played_s=played, loop=loop)
        return (source.first if isinstance(source, PlaylistInput) else None), offset

    assert start(two, 1.25) == (0, 1.25)
    assert start(two, 3.0) == (1, 1.0)  # 1 s into the second item, which the list starts with
    assert start(two, 5.5) == (0, 1.0)  # a pass of 4.5 s, then 1 s into the next
    assert start(two, 9.0) == (0, 0.0)  # two whole passes
    assert start(two, 5.5, loop=False) == (1, 2.5)  # past the end: at the end, it ends at once
    # A 24/7 folder's position grows past what -ss may take; its pass does not.
    assert start(two, 40 * 86400 + 3.0) == (1, 1.0)
    unknown = PlaylistInput(paths=("/m/a.mp4", "/m/b.mp4"), durations=(2.0, None))
    assert start(unknown, 3.0) == (0, 0.0)  # cannot tell which item: from the start
    assert start(FileInput(path="/m/a.mp4", duration_s=3.0), 7.5) == (None, 1.5)
    assert start(FileInput(path="/m/a.mp4", duration_s=float("nan")), 7.5) == (None, 7.5)
    assert start(FileInput(path="/m/a.mp4"), 40 * 86400.0) == (None, 0.0)


def test_a_playlist_plays_round_from_its_first_item(tmp_path: Path) -> None:
    src = PlaylistInput(paths=("/m/a.mp4", "/m/b.mp4", "/m/c.mp4"), first=1)
    spec = JobSpec(input=src, profile=SMALL, outputs=(FileOutput(path="/o.mkv"),), loop=True)
    build_argv(spec, tmp_path)
    links = sorted((tmp_path / "media").iterdir())
    assert [os.readlink(link) for link in links] == ["/m/b.mp4", "/m/c.mp4", "/m/a.mp4"]
    with pytest.raises(SpecError):  # a first item that is not there
        PlaylistInput(paths=("/m/a.mp4",), first=1)
