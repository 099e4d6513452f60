"""Where a run's bitrate comes from (bitrate.py): the rule, and the meter on real ffmpeg."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from workers.ffmpeg.argv import build_argv
from workers.ffmpeg.bitrate import (
    BitrateMeter,
    BitrateSource,
    VideoStats,
    bitrate_source,
    parse_video_stats,
)
from workers.ffmpeg.confine import confinement_for
from workers.ffmpeg.muxers import remove_hls_leftovers
from workers.ffmpeg.progress import Progress
from workers.ffmpeg.spec import (
    AudioCodec,
    FileInput,
    FileOutput,
    HlsOutput,
    JobSpec,
    OutputSpec,
    ProfileSpec,
    RtmpOutput,
    TestPattern,
    TestPatternInput,
    UdpOutput,
    VideoCodec,
)
from workers.ffmpeg.supervisor import ExitReason, FFmpegProcess

ENCODE = ProfileSpec(
    video_bitrate_kbps=1000, width=320, height=240, keyframe_interval_s=1, preset="ultrafast"
)
COPY = ProfileSpec(video_codec=VideoCodec.COPY, audio_codec=AudioCodec.COPY)
RTMP_A = RtmpOutput(url="rtmp://a.example/live", stream_key="key-a")
RTMP_B = RtmpOutput(url="rtmp://b.example/live", stream_key="key-b")
UDP = UdpOutput(url="udp://127.0.0.1:9")


def spec(profile: ProfileSpec, *outputs: OutputSpec) -> JobSpec:
    return JobSpec(input=TestPatternInput(), profile=profile, outputs=outputs)


@pytest.mark.parametrize(
    ("profile", "outputs", "source"),
    [
        (ENCODE, (RTMP_A,), BitrateSource.MUXER),  # ffmpeg sizes its one output itself
        (COPY, (FileOutput(path="/srv/a.mkv"),), BitrateSource.MUXER),
        (ENCODE, (RTMP_A, RTMP_B), BitrateSource.ENCODER),  # a tee: bitrate=N/A
        (ENCODE, (RTMP_A, FileOutput(path="/srv/rec.mkv")), BitrateSource.ENCODER),
        (ENCODE, (HlsOutput(directory="/srv/hls"),), BitrateSource.ENCODER),
        (COPY, (HlsOutput(directory="/srv/hls"),), BitrateSource.WRITTEN),
        (COPY, (RTMP_A, FileOutput(path="/srv/rec.mkv")), BitrateSource.WRITTEN),
        (COPY, (RTMP_A, RTMP_B), BitrateSource.NONE),
        # A disabled output is not written: one enabled output left is ffmpeg's to size.
        (ENCODE, (RTMP_A, RtmpOutput(url="rtmp://c/live", stream_key="k", enabled=False)),
         BitrateSource.MUXER),
    ],
)  # fmt: skip
def test_one_source_per_process_is_chosen_from_its_spec(
    profile: ProfileSpec, outputs: tuple[OutputSpec, ...], source: BitrateSource
) -> None:
    assert bitrate_source(spec(profile, *outputs)) is source


def test_the_encoders_average_is_shown_only_past_its_first_frames() -> None:
    meter = BitrateMeter(spec(ENCODE, RTMP_A, RTMP_B))
    progress = Progress(out_time_us=2_000_000)
    assert meter.bitrate_kbps(progress) is None  # nothing from the encoder yet
    # The first frames' times are clamped to 0.01 s: their "average" is tens of Mbit/s.
    meter.on_video_stats(VideoStats(frame=2, time_s=0.01, avg_kbps=21001.6))
    assert meter.bitrate_kbps(progress) is None
    meter.on_video_stats(VideoStats(frame=59, time_s=1.9, avg_kbps=1055.74))
    assert meter.bitrate_kbps(progress) == 1055.7


Shown = list[tuple[float, float | None]]


def run(spec: JobSpec, workdir: Path, meter: BitrateMeter) -> tuple[Shown, Progress]:
    """Run `spec` to its end under its confinement; (out_time_s, meter's figure) at each
    progress."""
    shown: Shown = []
    process = FFmpegProcess(
        build_argv(spec, workdir),
        on_progress=lambda p: shown.append((p.out_time_s or 0.0, meter.bitrate_kbps(p))),
        on_video_stats=meter.on_video_stats if meter.wants_video_stats else None,
        cwd=str(workdir),
        confinement=confinement_for(spec, workdir),
    )
    process.start()
    info = process.wait(timeout=60)
    assert info.reason is ExitReason.COMPLETED, info.log_tail
    assert process.last_progress is not None
    return shown, process.last_progress


@pytest.mark.slow
def test_a_tee_of_two_outputs_measures_the_video_encoders_bitrate_through_a_pipe(
    tmp_path: Path,
) -> None:
    source = TestPatternInput(pattern=TestPattern.TESTSRC2, width=320, height=240, rate=25,
                              duration_s=5)  # fmt: skip
    job = JobSpec(input=source, profile=ENCODE, outputs=(UDP, UDP), realtime=True)
    meter = BitrateMeter(job)
    shown, last = run(job, tmp_path, meter)
    assert last.bitrate_kbps is None  # ffmpeg's own figure: N/A through a tee
    # ffmpeg writes the statistics in 4 KiB chunks (about 1.3 s of frames here): from
    # its third second on, every progress block has a figure.
    later = [kbps for out_time, kbps in shown if out_time >= 3.0]
    assert later and None not in later, shown
    final = later[-1]
    assert final is not None and abs(final - 1000) <= 300
    assert list(tmp_path.iterdir()) == []  # the statistics left no file to grow


def h264_file(path: Path, seconds: int) -> Path:
    subprocess.run(
        [
            "ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
            f"testsrc2=size=320x240:rate=25:duration={seconds}", "-c:v", "libx264",
            "-preset", "ultrafast", "-b:v", "1000k", "-minrate", "1000k", "-maxrate", "1000k",
            "-bufsize", "2000k", "-g", "25", "-y", str(path),
        ],
        check=True,
        timeout=60,
    )  # fmt: skip
    return path


@pytest.mark.slow
def test_a_copy_to_hls_counts_the_segments_its_window_deleted(tmp_path: Path) -> None:
    # Paced, as a live output is: a segment then stays listed for seconds, and the meter
    # sees each one before hlsenc deletes it.
    source = h264_file(tmp_path / "in.mkv", seconds=6)
    folder = tmp_path / "hls"
    folder.mkdir()
    hls = HlsOutput(directory=str(folder), segment_seconds=1, list_size=2)
    job = JobSpec(input=FileInput(path=str(source)), profile=COPY, outputs=(hls,),
                  realtime=True)  # fmt: skip
    remove_hls_leftovers(hls)
    meter = BitrateMeter(job)
    workdir = tmp_path / "run"
    workdir.mkdir()
    _, last = run(job, workdir, meter)
    kbps = meter.bitrate_kbps(last)
    assert kbps is not None and abs(kbps - 1000) <= 300
    # What is left in the folder is the window: a fraction of what was written.
    left = sum(p.stat().st_size for p in folder.glob("segment_*.ts"))
    assert left * 8 / 1000 / (last.out_time_s or 1) < 0.6 * kbps


def test_a_vstats_line_is_read_and_anything_else_is_skipped() -> None:
    line = (
        "out=  0 st=  0 frame=    59 q= -1.0 f_size=   1027 s_size=       59kB "
        "time= 1.900 br=   246.5kbits/s avg_br=   255.7kbits/s type= B"
    )
    assert parse_video_stats(line) == VideoStats(frame=59, time_s=1.9, avg_kbps=255.7)
    for other in ("", "frame= 1", line.replace("time= 1.900", "time= 1.9.0")):
        assert parse_video_stats(other) is None
