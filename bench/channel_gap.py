"""A channel's transition gap between items: one ffmpeg over a concat list, or one per item,
and at a window end (one concat ffmpeg handing over to the next).

    .venv/bin/python bench/channel_gap.py [--items 4] [--seconds 4]

Makes --items clips of --seconds each (160x90, 25 fps, a tone), then plays them as
HLS (2-second segments) in real time, two ways, through the engine (build_argv,
the confinement, FFmpegProcess):

- concat: one ffmpeg over a concat list with each item's in and out point (what
  a playing channel runs, apps/channels/play);
- per-item: one ffmpeg per item, each continuing the playlist (append_list with a
  discontinuity), the next started when the previous ends;
- window: the items in two concat lists (two windows, ending at an item boundary), the
  second ffmpeg started when the first ends, with its timestamps continuing the first's
  (-output_ts_offset: the seconds since the first started, as a channel's epoch gives).
  Its timestamp step is taken across the join, and whether every step is positive.

For each it prints the longest stall of the playlist (the longest wait between two
segments appearing, less the later one's length: how long a player waits for
picture beyond real time) and the largest step between two video timestamps in
the output (a hole in the picture; per-item runs start their timestamps again, so
that figure is taken within each run). See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import itertools

from workers.ffmpeg.argv import build_argv
from workers.ffmpeg.confine import confinement_for
from workers.ffmpeg.profile import ProfileSpec
from workers.ffmpeg.spec import FileInput, HlsOutput, JobSpec, PlaylistInput
from workers.ffmpeg.supervisor import FFmpegProcess

PROFILE = ProfileSpec(
    video_bitrate_kbps=200, width=160, height=90, fps=25, keyframe_interval_s=1, preset="ultrafast"
)
SEGMENT_SECONDS = 2


def make_clip(path: Path, seconds: float, hue: int) -> None:
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y",
         "-f", "lavfi", "-i", f"testsrc2=s=160x90:r=25:d={seconds},hue=h={hue}",
         "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:d={seconds}",
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "25",
         "-c:a", "aac", "-shortest", f"file:{path}"],
        check=True,
    )  # fmt: skip


class Watch:
    """The time each segment of an HLS folder appeared."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.seen, self.stopped = folder, {}, threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while not self.stopped.is_set():
            for path in self.folder.glob("segment_*.ts"):
                self.seen.setdefault(path.name, (time.monotonic(), path))
            time.sleep(0.01)

    def stop(self) -> list[tuple[float, Path]]:
        self.stopped.set()
        self.thread.join()
        return sorted(self.seen.values())


def duration(path: Path) -> float:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "json", str(path)],
        capture_output=True, check=True, text=True,
    )  # fmt: skip
    return float(json.loads(out.stdout)["format"]["duration"])


def video_times(path: Path) -> list[float]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts_time",
         "-of", "json", str(path)],
        capture_output=True, check=True, text=True,
    )  # fmt: skip
    return [float(p["pts_time"]) for p in json.loads(out.stdout)["packets"]]


def run(spec: JobSpec, workdir: Path) -> None:
    workdir.mkdir(parents=True, exist_ok=True)
    argv = build_argv(spec, workdir)
    process = FFmpegProcess(
        argv, cwd=str(workdir), confinement=confinement_for(spec, workdir), stall_timeout=30
    )
    process.start()
    process.wait()


def measure(name: str, segments: list[tuple[float, Path]], runs: list[list[Path]]) -> None:
    stall = 0.0
    for (before, _), (after, path) in itertools.pairwise(segments):
        stall = max(stall, after - before - duration(path))
    step, increasing = 0.0, True
    for paths in runs:
        times = [t for path in paths for t in video_times(path)]
        steps = [b - a for a, b in itertools.pairwise(times)]
        step = max([step, *steps])
        increasing = increasing and all(s > 0 for s in steps)
    print(f"channel_gap_{name}_stall_s={max(stall, 0.0):.2f} (longest wait for a segment "
          f"beyond real time, {len(segments)} segments)")  # fmt: skip
    print(f"channel_gap_{name}_timestamp_step_s={step:.3f} (largest step between video "
          f"timestamps; 0.040 is one frame at 25 fps)")  # fmt: skip
    print(f"channel_gap_{name}_timestamps_increasing={'yes' if increasing else 'no'}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=4.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        clips = [root / f"clip{i}.mp4" for i in range(args.items)]
        for index, clip in enumerate(clips):
            make_clip(clip, args.seconds + 1, hue=index * 90)

        hls = root / "concat"
        hls.mkdir()
        output = HlsOutput(directory=str(hls), segment_seconds=SEGMENT_SECONDS, list_size=0,
                           delete_segments=False, append=True)  # fmt: skip
        playlist = PlaylistInput(
            paths=tuple(map(str, clips)),
            inpoints=(0.5,) * len(clips),
            outpoints=(args.seconds + 0.5,) * len(clips),
        )
        watch = Watch(hls)
        run(JobSpec(input=playlist, profile=PROFILE, outputs=(output,)), root / "work-concat")
        segments = watch.stop()
        measure("concat", segments, [[path for _, path in segments]])

        hls = root / "per-item"
        hls.mkdir()
        output = HlsOutput(directory=str(hls), segment_seconds=SEGMENT_SECONDS, list_size=0,
                           delete_segments=False, append=True)  # fmt: skip
        watch = Watch(hls)
        names_per_run: list[set[str]] = []
        for index, clip in enumerate(clips):
            before = {p.name for p in hls.glob("segment_*.ts")}
            spec = JobSpec(input=FileInput(str(clip)), profile=PROFILE, outputs=(output,))
            run(spec, root / f"work-item-{index}")
            names_per_run.append({p.name for p in hls.glob("segment_*.ts")} - before)
        segments = watch.stop()
        by_name = {path.name: path for _, path in segments}
        runs = [[by_name[n] for n in sorted(names) if n in by_name] for names in names_per_run]
        measure("per_item", segments, runs)

        hls = root / "window"
        hls.mkdir()
        output = HlsOutput(directory=str(hls), segment_seconds=SEGMENT_SECONDS, list_size=0,
                           delete_segments=False, append=True)  # fmt: skip
        watch = Watch(hls)
        half = max(1, len(clips) // 2)
        first_started = time.monotonic()
        for index, part in enumerate((clips[:half], clips[half:])):
            if not part:
                continue
            window = PlaylistInput(
                paths=tuple(map(str, part)),
                inpoints=(0.5,) * len(part),
                outpoints=(args.seconds + 0.5,) * len(part),
            )
            offset = time.monotonic() - first_started if index else 0.0
            spec = JobSpec(input=window, profile=PROFILE, outputs=(output,),
                           output_ts_offset_s=offset)  # fmt: skip
            run(spec, root / f"work-window-{index}")
        segments = watch.stop()
        measure("window", segments, [[path for _, path in segments]])


if __name__ == "__main__":
    main()
