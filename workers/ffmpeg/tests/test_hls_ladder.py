"""The HLS ladder: real ffmpeg writes every variant from one process, confined, and real
ffprobe reads what it wrote."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import pytest

from workers.ffmpeg.argv import build_argv
from workers.ffmpeg.bitrate import BitrateSource, bitrate_source
from workers.ffmpeg.confine import confinement_for
from workers.ffmpeg.ladder import LATENCY_WINDOWS, latency_window
from workers.ffmpeg.logs import LogEvent, LogLevel
from workers.ffmpeg.preflight import run_preflight
from workers.ffmpeg.spec import (
    Container,
    FileInput,
    FileOutput,
    HlsLadderOutput,
    JobSpec,
    OutputSpec,
    ProfileSpec,
    TestPatternInput,
    UrlInput,
    VariantSpec,
)
from workers.ffmpeg.supervisor import ExitReason, FFmpegProcess
from workers.ffmpeg.tests.rtmp_server import RtmpServer, rtmp_server_fixture  # noqa: F401

PROFILE = ProfileSpec(preset="ultrafast")  # a ladder's variants carry their own encodes
SMALL = VariantSpec(name="240p", width=426, height=240, video_bitrate_kbps=300)
SMALLER = VariantSpec(name="144p", width=256, height=144, video_bitrate_kbps=120, fps=15)


def ladder(folder: Path, *variants: VariantSpec, list_size: int = 3) -> HlsLadderOutput:
    return HlsLadderOutput(
        directory=str(folder),
        variants=variants or (SMALL, SMALLER),
        segment_seconds=1,
        list_size=list_size,
    )


def run(
    outputs: tuple[OutputSpec, ...],
    workdir: Path,
    seconds: float,
    *,
    source: TestPatternInput | None = None,
) -> list[LogEvent]:
    spec = JobSpec(
        input=source or TestPatternInput(width=426, height=240, rate=25, duration_s=seconds),
        profile=PROFILE,
        outputs=outputs,
        realtime=False,  # as fast as it can: the playlists do not care, the test's clock does
    )
    for output in outputs:
        if isinstance(output, HlsLadderOutput):
            Path(output.directory).mkdir(parents=True, exist_ok=True)
    events: list[LogEvent] = []
    process = FFmpegProcess(
        build_argv(spec, workdir),
        on_log=events.append,
        cwd=str(workdir),
        confinement=confinement_for(spec, workdir),
    )
    process.start()
    info = process.wait(timeout=seconds + 60)
    assert info.reason is ExitReason.COMPLETED, [e.line for e in events][-20:]
    return events


def errors(events: list[LogEvent]) -> list[str]:
    return [e.line for e in events if e.level in (LogLevel.ERROR, LogLevel.FATAL)]


def probe(path: Path) -> dict[str, dict[str, object]]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(path)],
        capture_output=True,
        check=True,
        timeout=30,
    )
    streams = json.loads(out.stdout)["streams"]
    return {str(s["codec_type"]): s for s in streams}


def playlist(path: Path) -> tuple[int, list[str], list[str]]:
    """(media sequence, segment names, every tag line) of a media playlist."""
    lines = path.read_text().splitlines()
    sequence = next(int(x.split(":")[1]) for x in lines if x.startswith("#EXT-X-MEDIA-SEQUENCE"))
    return sequence, [x for x in lines if x.endswith(".ts")], [x for x in lines if x[:1] == "#"]


def segments(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.suffix == ".ts")


@pytest.mark.slow
def test_a_ladder_writes_a_master_and_one_playlist_per_variant_at_its_size(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "live"
    events = run((ladder(folder),), tmp_path / "work", seconds=3)
    assert errors(events) == []
    master = (folder / "index.m3u8").read_text()
    entries = re.findall(r"#EXT-X-STREAM-INF:(.*)\n(.*)\n", master)
    assert [uri for _, uri in entries] == ["240p/index.m3u8", "144p/index.m3u8"]
    for (attributes, _), (width, height) in zip(entries, [(426, 240), (256, 144)], strict=True):
        assert f"RESOLUTION={width}x{height}" in attributes
        # High profile 4:2:0 (avc1.64…) and AAC-LC: what hls.js and Safari play.
        assert re.search(r'CODECS="avc1\.64[0-9a-f]{4},mp4a\.40\.2"', attributes), attributes
        bandwidth = int(re.search(r"BANDWIDTH=(\d+)", attributes).group(1))  # type: ignore[union-attr]
        assert bandwidth > 0
    high, low = (int(re.search(r"BANDWIDTH=(\d+)", a).group(1)) for a, _ in entries)  # type: ignore[union-attr]
    assert high > low
    for name, (width, height) in (("240p", (426, 240)), ("144p", (256, 144))):
        _, names, tags = playlist(folder / name / "index.m3u8")
        assert "#EXT-X-INDEPENDENT-SEGMENTS" in tags
        assert "#EXT-X-TARGETDURATION:1" in tags
        streams = probe(folder / name / names[-1])
        assert (streams["video"]["width"], streams["video"]["height"]) == (width, height)
        assert streams["video"]["codec_name"] == "h264"
        assert streams["audio"]["codec_name"] == "aac"


@pytest.mark.slow
def test_every_variants_segments_start_on_a_keyframe_at_the_same_times(tmp_path: Path) -> None:
    folder = tmp_path / "live"
    run((ladder(folder, list_size=10),), tmp_path / "work", seconds=4)
    starts: dict[str, list[float]] = {}
    for name in ("240p", "144p"):
        _, names, _ = playlist(folder / name / "index.m3u8")
        starts[name] = []
        for segment in names:
            out = subprocess.run(
                ["ffprobe", "-v", "error", "-select_streams", "v:0", "-read_intervals", "%+#1",
                 "-show_entries", "frame=key_frame,pts_time", "-of", "json",
                 str(folder / name / segment)],
                capture_output=True, check=True, timeout=30,
            )  # fmt: skip
            first = json.loads(out.stdout)["frames"][0]
            assert first["key_frame"] == 1, (name, segment)
            starts[name].append(round(float(first["pts_time"]), 2))
    assert starts["240p"] == starts["144p"]
    assert len(starts["240p"]) >= 3


@pytest.mark.slow
def test_an_input_without_sound_gets_a_ladder_without_audio(tmp_path: Path) -> None:
    folder = tmp_path / "live"
    output = HlsLadderOutput(
        directory=str(folder), variants=(SMALL, SMALLER), segment_seconds=1, with_audio=False
    )
    silent = TestPatternInput(width=426, height=240, rate=25, duration_s=2, with_audio=False)
    assert errors(run((output,), tmp_path / "work", seconds=2, source=silent)) == []
    assert 'CODECS="avc1.' in (folder / "index.m3u8").read_text()
    _, names, _ = playlist(folder / "144p" / "index.m3u8")
    assert set(probe(folder / "144p" / names[-1])) == {"video"}


@pytest.mark.slow
def test_segments_that_leave_the_window_are_deleted(tmp_path: Path) -> None:
    folder = tmp_path / "live"
    run((ladder(folder, list_size=3),), tmp_path / "work", seconds=8)
    for name in ("240p", "144p"):
        # 8 segments written; the playlist's 3, plus the one hlsenc keeps for late readers.
        assert len(segments(folder / name)) <= 3 + 1, segments(folder / name)
        sequence, names, _ = playlist(folder / name / "index.m3u8")
        assert sequence >= 4 and len(names) == 3


@pytest.mark.slow
def test_a_second_process_on_the_folder_continues_the_playlists_after_a_discontinuity(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "live"
    run((ladder(folder, list_size=6),), tmp_path / "work", seconds=3)
    first_sequence, first_names, _ = playlist(folder / "240p" / "index.m3u8")
    events = run((ladder(folder, list_size=6),), tmp_path / "work", seconds=3)
    assert errors(events) == []
    for name in ("240p", "144p"):
        sequence, names, _tags = playlist(folder / name / "index.m3u8")
        assert sequence >= first_sequence
        lines = (folder / name / "index.m3u8").read_text().splitlines()
        # The new process's segments follow the old ones, numbered on, after a marker.
        join = max(i for i, line in enumerate(lines) if line == "#EXT-X-DISCONTINUITY")
        before = [x for x in lines[:join] if x.endswith(".ts")]
        after = [x for x in lines[join:] if x.endswith(".ts")]
        assert before and after, lines
        assert min(after) > max(before)
        assert "#EXT-X-ENDLIST" not in lines[:join]
        assert names == sorted(names)  # names (and sequence numbers) only go up
    assert max(playlist(folder / "240p" / "index.m3u8")[1]) > max(first_names)


@pytest.mark.slow
def test_a_process_killed_mid_segment_is_continued_by_the_next_one(tmp_path: Path) -> None:
    """What a takeover after `kill -9` of a worker finds: no ENDLIST, maybe half a segment."""
    folder = tmp_path / "live"
    folder.mkdir()
    output = ladder(folder, list_size=6)
    live = JobSpec(
        input=TestPatternInput(width=426, height=240, rate=25),  # endless, at its own pace
        profile=PROFILE,
        outputs=(output,),
        realtime=True,
    )
    process = FFmpegProcess(
        build_argv(live, tmp_path / "work"),
        cwd=str(tmp_path / "work"),
        confinement=confinement_for(live, tmp_path / "work"),
    )
    process.start()
    first = folder / "240p" / "index.m3u8"
    deadline = time.monotonic() + 30
    while not (first.exists() and len(playlist(first)[1]) >= 3) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)  # into the next segment
    process.kill()  # SIGKILL: no trailer, no ENDLIST
    _, killed_names, killed_tags = playlist(first)
    assert "#EXT-X-ENDLIST" not in killed_tags

    events = run((output,), tmp_path / "work", seconds=3)
    assert errors(events) == []
    for name in ("240p", "144p"):
        lines = (folder / name / "index.m3u8").read_text().splitlines()
        names = [x for x in lines if x.endswith(".ts")]
        join = max(i for i, line in enumerate(lines) if line == "#EXT-X-DISCONTINUITY")
        before = [x for x in lines[:join] if x.endswith(".ts")]
        after = [x for x in lines[join:] if x.endswith(".ts")]
        assert before and len(after) >= 2, lines
        assert names == sorted(names) and len(set(names)) == len(names)
        for segment in after:  # the new process's own, whole segments
            assert probe(folder / name / segment)["video"]["codec_name"] == "h264"
    assert playlist(first)[1][0] in killed_names  # the window still holds the old ones


@pytest.mark.slow
def test_a_recording_of_the_ladder_gets_the_highest_variant(tmp_path: Path) -> None:
    folder = tmp_path / "live"
    recording = tmp_path / "out" / "recording.mkv"
    recording.parent.mkdir()
    outputs = (ladder(folder), FileOutput(path=str(recording), container=Container.MKV))
    events = run(outputs, tmp_path / "work", seconds=3)
    assert errors(events) == []
    streams = probe(recording)
    assert (streams["video"]["width"], streams["video"]["height"]) == (426, 240)
    assert streams["audio"]["codec_name"] == "aac"
    assert (folder / "144p" / "index.m3u8").exists()
    # Through the tee (global headers) the master still names every variant's codecs.
    master = (folder / "index.m3u8").read_text()
    assert len(re.findall(r'CODECS="avc1\.64[0-9a-f]{4},mp4a\.40\.2"', master)) == 2, master


@pytest.mark.slow
def test_a_passthrough_variant_copies_the_input_video(tmp_path: Path) -> None:
    folder = tmp_path / "live"
    source = tmp_path / "source.flv"  # what nginx-rtmp relays: avcC extradata
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=320x180:rate=25:duration=4",
         "-f", "lavfi", "-i", "sine=duration=4", "-c:v", "libx264", "-preset", "ultrafast",
         "-pix_fmt", "yuv420p", "-g", "25", "-b:v", "300k", "-c:a", "aac", str(source)],
        check=True, timeout=60,
    )  # fmt: skip
    copy = VariantSpec(name="source", passthrough=True, video_bitrate_kbps=300)
    output = ladder(folder, copy, SMALLER)
    # A restream of the passthrough, as an RTMP target gets it (FLV wants avcC headers).
    restream = FileOutput(path=str(tmp_path / "restream.flv"), container=Container.FLV)
    spec = JobSpec(
        input=FileInput(path=str(source)),
        profile=PROFILE,
        outputs=(output, restream),
        realtime=False,
    )
    folder.mkdir()
    events: list[LogEvent] = []
    process = FFmpegProcess(
        build_argv(spec, tmp_path / "work"),
        on_log=events.append,
        cwd=str(tmp_path / "work"),
        confinement=confinement_for(spec, tmp_path / "work"),
    )
    process.start()
    assert process.wait(timeout=60).reason is ExitReason.COMPLETED, [e.line for e in events]
    master = (folder / "index.m3u8").read_text()
    # Listed at all (hlsenc drops a variant it knows no bitrate of), above the 144p, at its
    # size, with the codec string of the H.264 it copies.
    entries = re.findall(r"#EXT-X-STREAM-INF:(.*)\n(.*)\n", master)
    assert [uri for _, uri in entries] == ["source/index.m3u8", "144p/index.m3u8"]
    (source_attrs, _), (low_attrs, _) = entries
    assert "RESOLUTION=320x180" in source_attrs
    assert re.search(r'CODECS="avc1\.[0-9a-f]{6},mp4a\.40\.2"', source_attrs), source_attrs
    bandwidths = [int(re.search(r"BANDWIDTH=(\d+)", a).group(1)) for a in (source_attrs, low_attrs)]  # type: ignore[union-attr]
    assert bandwidths[0] > 300_000 > bandwidths[1]
    _, names, _ = playlist(folder / "source" / "index.m3u8")
    streams = probe(folder / "source" / names[-1])
    assert (streams["video"]["width"], streams["video"]["height"]) == (320, 180)
    assert output.feed == 0
    restreamed = probe(tmp_path / "restream.flv")
    assert (restreamed["video"]["width"], restreamed["video"]["height"]) == (320, 180)
    assert restreamed["video"]["codec_name"] == "h264"
    assert errors(events) == []


@pytest.mark.slow
def test_a_ladder_of_an_rtmp_publish_passes_its_video_through(
    tmp_path: Path, rtmp_server: RtmpServer
) -> None:
    """What a live stream's transcode reads: a publisher's RTMP relayed by nginx-rtmp."""
    folder = tmp_path / "live"
    folder.mkdir()
    copy = VariantSpec(name="source", passthrough=True)  # bitrate unknown: the default
    output = ladder(folder, copy, SMALLER, list_size=6)
    spec = JobSpec(
        input=UrlInput(url=rtmp_server.publish_url("goodkey")), profile=PROFILE, outputs=(output,)
    )
    process = FFmpegProcess(
        build_argv(spec, tmp_path / "work"),
        cwd=str(tmp_path / "work"),
        confinement=confinement_for(spec, tmp_path / "work"),
    )
    process.start()
    publisher = subprocess.Popen(
        ["ffmpeg", "-v", "error", "-re", "-f", "lavfi", "-i", "testsrc=size=320x180:rate=25",
         "-re", "-f", "lavfi", "-i", "sine", "-c:v", "libx264", "-preset", "ultrafast",
         "-pix_fmt", "yuv420p", "-g", "25", "-c:a", "aac", "-t", "6", "-f", "flv",
         rtmp_server.publish_url("goodkey")],
    )  # fmt: skip
    try:
        variant = folder / "source" / "index.m3u8"
        deadline = time.monotonic() + 30
        while (
            time.monotonic() < deadline
            and len(playlist(variant)[1] if variant.exists() else []) < 2
        ):
            time.sleep(0.2)
        master = (folder / "index.m3u8").read_text()
        assert re.search(
            r'BANDWIDTH=\d+,RESOLUTION=320x180,CODECS="avc1\.[0-9a-f]{6},mp4a\.40\.2"\n'
            r"source/index\.m3u8",
            master,
        ), master
        _, names, _ = playlist(variant)
        video = probe(folder / "source" / names[-1])["video"]
        assert (video["width"], video["height"], video["codec_name"]) == (320, 180, "h264")
        _, names, _ = playlist(folder / "144p" / "index.m3u8")
        video = probe(folder / "144p" / names[-1])["video"]
        assert (video["width"], video["height"]) == (256, 144)
    finally:
        publisher.kill()
        publisher.wait(10)
        process.stop(3)


@pytest.mark.slow
def test_a_passthrough_of_a_non_h264_input_fails_with_a_hint(tmp_path: Path) -> None:
    source = tmp_path / "source.mkv"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=320x180:rate=25:duration=1",
         "-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", str(source)],
        check=True, timeout=60,
    )  # fmt: skip
    copy = VariantSpec(name="source", passthrough=True)
    output = HlsLadderOutput(directory=str(tmp_path / "live"), variants=(copy,), with_audio=False)
    spec = JobSpec(input=FileInput(path=str(source)), profile=PROFILE, outputs=(output,))
    events: list[LogEvent] = []
    process = FFmpegProcess(
        build_argv(spec, tmp_path / "work"),
        on_log=events.append,
        cwd=str(tmp_path / "work"),
        confinement=confinement_for(spec, tmp_path / "work"),
    )
    process.start()
    assert process.wait(timeout=30).reason is not ExitReason.COMPLETED
    assert "ffmpeg.passthrough_not_h264" in {e.hint_code for e in events}


def test_the_latency_table_keeps_the_lowest_level_short_and_the_highest_tolerant() -> None:
    assert sorted(LATENCY_WINDOWS) == [0, 1, 2, 3, 4]
    assert latency_window(0)[0] == 1
    assert latency_window(4) == (6, 10)
    lengths = [latency_window(level)[0] for level in range(5)]
    assert lengths == sorted(lengths)


def test_a_ladder_job_measures_its_bitrate_from_what_it_writes(tmp_path: Path) -> None:
    spec = JobSpec(input=TestPatternInput(), profile=PROFILE, outputs=(ladder(tmp_path),))
    assert bitrate_source(spec) is BitrateSource.WRITTEN
    assert confinement_for(spec, tmp_path / "w").write == (str(tmp_path / "w"), str(tmp_path))


def test_preflight_checks_that_the_ladders_folder_is_writable(tmp_path: Path) -> None:
    spec = JobSpec(
        input=TestPatternInput(duration_s=1), profile=PROFILE, outputs=(ladder(tmp_path / "l"),)
    )
    checks = {c.name: c for c in run_preflight(spec)}
    assert checks["output.0.writable"].code == "preflight.output_writable"
    assert checks["output.0.writable"].params["directory"] == str(tmp_path / "l")
