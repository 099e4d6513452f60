"""Progress parsing, including a real `-progress pipe:1` stream from ffmpeg."""

from __future__ import annotations

import subprocess

from workers.ffmpeg.progress import ProgressParser, parse_progress

BLOCK = """frame=120
fps=29.97
stream_0_0_q=23.0
bitrate=2500.3kbits/s
total_size=1048576
out_time_us=4000000
out_time_ms=4000000
out_time=00:00:04.000000
dup_frames=1
drop_frames=2
speed=1.02x
progress=continue
"""


def test_it_parses_a_full_block() -> None:
    [block] = parse_progress(BLOCK)
    assert (block.frame, block.fps, block.bitrate_kbps) == (120, 29.97, 2500.3)
    assert (block.total_size_bytes, block.out_time_us, block.out_time_s) == (1048576, 4000000, 4.0)
    assert (block.dup_frames, block.drop_frames, block.speed, block.ended) == (1, 2, 1.02, False)
    assert block.extra == {"stream_0_0_q": "23.0"}


def test_it_tolerates_na_and_falls_back_to_the_clock() -> None:
    text = (
        "frame=0\nfps=0.00\nbitrate=N/A\ntotal_size=N/A\nout_time_us=N/A\n"
        "out_time=-00:00:01.5\nspeed=N/A\nprogress=end\n"
    )
    [block] = parse_progress(text)
    assert block.bitrate_kbps is None
    assert block.speed is None
    assert block.total_size_bytes is None
    assert block.out_time_us == -1_500_000
    assert block.ended


def test_it_yields_each_block_once_when_fed_line_by_line() -> None:
    parser = ProgressParser()
    lines = (BLOCK + BLOCK.replace("frame=120", "frame=150")).splitlines()
    blocks = [b for line in lines if (b := parser.feed_line(line)) is not None]
    assert [b.frame for b in blocks] == [120, 150]
    assert parser.feed_line("garbage without equals") is None


def test_it_reads_real_ffmpeg_progress() -> None:
    result = subprocess.run(
        [
            "ffmpeg",
            "-hide_banner",
            "-nostdin",
            "-nostats",
            "-progress",
            "pipe:1",
            "-stats_period",
            "0.5",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=160x120:rate=25:duration=2",
            "-f",
            "null",
            "-",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    blocks = parse_progress(result.stdout)
    assert blocks[-1].ended
    assert blocks[-1].frame == 50
    assert blocks[-1].out_time_us == 2_000_000
    assert all(not b.ended for b in blocks[:-1])
