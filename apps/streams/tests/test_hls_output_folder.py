"""Each ffmpeg of a run starts with an HLS folder cleared of what earlier processes left."""

from __future__ import annotations

from pathlib import Path

from apps.streams.runtime.workdir import prepare_output_dirs
from workers.ffmpeg.spec import HlsOutput, JobSpec, ProfileSpec, TestPatternInput


def spec_with(*outputs: HlsOutput) -> JobSpec:
    return JobSpec(input=TestPatternInput(), profile=ProfileSpec(), outputs=outputs)


def test_a_new_process_finds_no_segments_of_earlier_ones(tmp_path: Path) -> None:
    folder = tmp_path / "hls"
    folder.mkdir()
    left = ["segment_00007.ts", "segment_00008.ts", "segment_00009.ts"]  # a longer run's tail
    kept = ["index.m3u8", "poster.jpg", "segment_1.ts"]  # not CastCore's segment names
    for name in left + kept:
        (folder / name).write_bytes(b"x")
    assert prepare_output_dirs(spec_with(HlsOutput(directory=str(folder)))) == []
    assert sorted(p.name for p in folder.iterdir()) == sorted(kept)


def test_an_hls_folder_is_created_and_a_disabled_output_is_left_alone(tmp_path: Path) -> None:
    disabled = tmp_path / "off"
    disabled.mkdir()
    (disabled / "segment_00001.ts").write_bytes(b"x")
    spec = spec_with(
        HlsOutput(directory=str(tmp_path / "new" / "hls")),
        HlsOutput(directory=str(disabled), enabled=False),
    )
    assert prepare_output_dirs(spec) == []
    assert (tmp_path / "new" / "hls").is_dir()
    assert (disabled / "segment_00001.ts").exists()
