"""Where a run's bitrate comes from: the one rule, and the meter that applies it.

ffmpeg's -progress `bitrate=` (and `total_size=`) sizes the one output it writes
itself. Through a tee (several outputs, or one and the recording) or to HLS, both
stay N/A for the whole run, and that is the most common job: a restream to two
platforms. So the source is chosen once per ffmpeg process, from its spec:

- MUXER: one output other than HLS. ffmpeg's own figure: everything it wrote to it
  (video, audio, container) over the time written.
- ENCODER: anything else that encodes video. The video encoder's own account of the
  packets it produced (`-vstats_file`, which ffmpeg writes whatever the muxer): the
  video stream's average rate, audio and container overhead not counted.
- WRITTEN: a stream copy (no encoder to ask) that writes files: the bytes of its first
  file output (the recording is one), else of its HLS segments, over the time written.
  hlsenc deletes segments that leave the window; each is counted at its last size
  seen, which needs a look while it is listed: a paced (live) run lists one for
  several seconds and is looked at every progress block.
- WRITTEN also for an HLS ladder (workers.ffmpeg.ladder), which runs an encoder per
  variant or a copy: the segments of its feed variant, the streams its restream
  outputs and recording receive.
- NONE: a stream copy to network outputs only. Nothing measures it: None.

One source per process, so the figure never flips between two ways of counting.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass
from enum import StrEnum

from workers.ffmpeg.muxers import is_hls_segment
from workers.ffmpeg.progress import Progress
from workers.ffmpeg.spec import FileOutput, HlsLadderOutput, HlsOutput, JobSpec, VideoCodec


class BitrateSource(StrEnum):
    MUXER = "muxer"
    ENCODER = "encoder"
    WRITTEN = "written"
    NONE = "none"


def expected_kbps(source: str | None, *, video_kbps: float, audio_kbps: float) -> float:
    """What a healthy run's figure from `source` reaches: the encoder's counts no audio."""
    return video_kbps if source == BitrateSource.ENCODER else video_kbps + audio_kbps


def bitrate_source(spec: JobSpec) -> BitrateSource:
    """The rule: where the bitrate of `spec`'s ffmpeg comes from (module docstring)."""
    outputs = spec.enabled_outputs
    if any(isinstance(output, HlsLadderOutput) for output in outputs):
        # Many encoders (or a copy) in one process: what the feed variant writes is the
        # figure, the stream restream targets and the recording receive.
        return BitrateSource.WRITTEN
    if len(outputs) == 1 and not isinstance(outputs[0], HlsOutput):
        return BitrateSource.MUXER
    if spec.profile.video_codec is not VideoCodec.COPY:
        return BitrateSource.ENCODER
    if any(isinstance(output, FileOutput | HlsOutput) for output in outputs):
        return BitrateSource.WRITTEN
    return BitrateSource.NONE


# A -vstats_file line (version 2, ffmpeg 5.1):
# out=  0 st=  0 frame=   59 q= -1.0 f_size=  1027 s_size=  59kB time= 1.900 br= 246.5kbits/s
# avg_br=   255.7kbits/s type= B
_NUMBER = r"(\d+(?:\.\d+)?)"
_VSTATS = re.compile(rf"\bframe=\s*(\d+)\s.*\btime=\s*{_NUMBER}\s.*\bavg_br=\s*{_NUMBER}kbits/s")


@dataclass(frozen=True)
class VideoStats:
    """One line of ffmpeg's -vstats_file: the video encoder's output so far."""

    frame: int
    time_s: float  # the stream's end time when the frame was written
    avg_kbps: float  # every encoded byte of the stream so far over time_s


def parse_video_stats(line: str) -> VideoStats | None:
    match = _VSTATS.search(line)
    if match is None:
        return None
    frame, time_s, avg = match.groups()
    return VideoStats(frame=int(frame), time_s=float(time_s), avg_kbps=float(avg))


class BitrateMeter:
    """The bitrate of one ffmpeg process, from the source bitrate_source chose.

    `on_video_stats` is called on ffmpeg's vstats reader thread, `bitrate_kbps` on its
    progress reader thread; a WRITTEN measure costs a stat per file, or a listing of
    an HLS folder, per progress block (one reader thread: they never overlap).
    """

    def __init__(self, spec: JobSpec) -> None:
        self.source = bitrate_source(spec)
        outputs = spec.enabled_outputs
        self._files = tuple(o.path for o in outputs if isinstance(o, FileOutput))
        self._hls_dirs = tuple(
            o.variant_dir(o.feed) if isinstance(o, HlsLadderOutput) else o.directory
            for o in outputs
            if isinstance(o, HlsOutput | HlsLadderOutput)
        )
        self._segments: dict[str, int] = {}  # every HLS segment seen, deleted ones too
        self._video: VideoStats | None = None

    @property
    def wants_video_stats(self) -> bool:
        return self.source is BitrateSource.ENCODER

    def on_video_stats(self, stats: VideoStats) -> None:
        self._video = stats

    def bitrate_kbps(self, progress: Progress) -> float | None:
        if self.source is BitrateSource.MUXER:
            return progress.bitrate_kbps
        if self.source is BitrateSource.ENCODER:
            video = self._video
            # The first frames' times are clamped to 0.01 s: no average yet.
            if video is None or video.time_s < 0.5:
                return None
            return round(video.avg_kbps, 1)
        if self.source is BitrateSource.WRITTEN:
            out_time = progress.out_time_s
            if out_time is None or out_time <= 0:
                return None
            written = self._written_bytes()
            return round(written * 8 / 1000 / out_time, 1) if written else None
        return None

    def _written_bytes(self) -> int:
        # A file output holds the same streams as the others: its size is the run's. HLS
        # deletes segments that leave the window, so each one's last size seen is kept.
        if self._files:
            try:
                return os.stat(self._files[0]).st_size
            except OSError:
                return 0
        for folder in self._hls_dirs[:1]:
            try:
                entries = list(os.scandir(folder))
            except OSError:
                continue
            for entry in entries:
                if is_hls_segment(entry.name):
                    with contextlib.suppress(OSError):  # deleted between listing and stat
                        self._segments[entry.name] = entry.stat().st_size
        return sum(self._segments.values())
