"""The scan engine on a real generated library (see workers/ffmpeg/testing.py)."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apps.media.scanner import (
    FileEntry,
    ScanError,
    ScanIndex,
    Walker,
    bounded_map,
    plan,
    probe_many,
    scan_tree,
    walk,
)
from workers.ffmpeg.probe import ProbeError, ProbeResult, probe
from workers.ffmpeg.testing import Library


def _probe_all(lib: Library, entries: list[FileEntry]) -> dict[str, ProbeResult | ProbeError]:
    return {e.relpath: r for e, r in probe_many(entries, root=lib.root, parallelism=2, timeout=10)}


def test_first_scan_lists_media_only(library: Library) -> None:
    result = scan_tree(library.root)
    assert {e.relpath for e in result.plan.new} == library.media
    assert result.plan.changed == result.plan.unchanged == result.plan.missing == []
    assert result.errors == []
    # link_outside.mp4, link_inside.mp4, linkdir/, escape_dir/
    assert result.stats.symlinks_skipped == 4


def test_symlinks_are_never_followed(library: Library) -> None:
    relpaths = {e.relpath for e in walk(library.root)}
    assert not any(r.startswith(("link", "escape_dir")) for r in relpaths)
    assert "outside.mp4" not in {Path(r).name for r in relpaths}
    # linkdir -> nested: its file is listed once, under its real folder.
    assert [r for r in relpaths if r.endswith("inner.mkv")] == ["nested/deeper/inner.mkv"]


def test_entries_carry_size_and_mtime(library: Library) -> None:
    entry = next(e for e in walk(library.root) if e.relpath == "clips/h264.mp4")
    st = (library.root / "clips/h264.mp4").stat()
    assert (entry.size, entry.mtime_ns) == (st.st_size, st.st_mtime_ns)


def test_probe_many_records_errors_and_keeps_going(library: Library) -> None:
    progress: list[tuple[int, int]] = []
    entries = scan_tree(library.root).plan.to_probe
    outcomes = {
        e.relpath: r
        for e, r in probe_many(
            entries,
            root=library.root,
            parallelism=2,
            timeout=10,
            on_progress=lambda done, total: progress.append((done, total)),
        )
    }
    assert set(outcomes) == library.media
    for rel, codec in library.valid.items():
        result = outcomes[rel]
        assert isinstance(result, ProbeResult), (rel, result)
        if codec:
            assert result.video_streams[0].codec == codec
    assert {rel: getattr(outcomes[rel], "code", None) for rel in library.broken} == library.broken
    total = len(entries)
    assert progress == [(i, total) for i in range(1, total + 1)]


def test_hostile_names_probe_fine(library: Library) -> None:
    entries = [e for e in walk(library.root) if "/" not in e.relpath]
    outcomes = _probe_all(library, entries)
    assert outcomes["-rf.mp4"].streams[0].codec == "h264"  # type: ignore[union-attr]
    assert outcomes['it\'s "quoted".mp4'].streams[0].codec == "h264"  # type: ignore[union-attr]
    assert outcomes["café 東京.mkv"].container == "matroska,webm"  # type: ignore[union-attr]
    assert outcomes["with spaces.mp4"].duration == pytest.approx(1.0, abs=0.1)  # type: ignore[union-attr]


def test_parallelism_is_bounded(library: Library) -> None:
    lock = threading.Lock()
    running = peak = 0

    def counting_probe(target: str, *, timeout: float) -> ProbeResult:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        try:
            return probe(target, timeout=timeout)
        finally:
            with lock:
                running -= 1

    entries = list(walk(library.root)) * 3
    results = list(
        probe_many(entries, root=library.root, parallelism=3, timeout=10, probe_fn=counting_probe)
    )
    assert len(results) == len(entries)
    assert peak == 3


def test_bounded_map_queues_at_most_twice_the_parallelism() -> None:
    pulled = 0

    def items() -> Iterator[int]:
        nonlocal pulled
        for n in range(100):
            pulled += 1
            yield n

    results = bounded_map(lambda n: n * 2, items(), parallelism=2)
    first = next(results)
    assert first[1] == first[0] * 2
    assert pulled <= 2 * 2 + 1  # the window, plus the one submitted after the first result
    results.close()  # the caller stops early: nothing more is pulled
    assert pulled <= 2 * 2 + 1


def test_bounded_map_maps_every_item_even_a_none() -> None:
    # The remote (S3) probes and probe_many share this loop; a falsy item must not end it.
    results = dict(bounded_map(lambda x: repr(x), [1, None, 0, 2], parallelism=1))
    assert results == {1: "1", None: "None", 0: "0", 2: "2"}


def test_an_exception_in_probe_fn_becomes_an_error_not_a_crash(library: Library) -> None:
    def flaky(target: str, *, timeout: float) -> ProbeResult:
        if target.endswith("h264.mp4"):
            raise RuntimeError("boom")
        return probe(target, timeout=timeout)

    entries = [e for e in walk(library.root) if e.relpath.startswith("clips/")]
    outcomes = {e.relpath: r for e, r in probe_many(entries, root=library.root, probe_fn=flaky)}
    assert isinstance(outcomes["clips/h264.mp4"], ProbeError)
    assert outcomes["clips/h264.mp4"].code == "probe.failed"
    assert isinstance(outcomes["clips/vp9.webm"], ProbeResult)


def test_a_file_swapped_for_a_symlink_after_the_walk_is_not_probed(library: Library) -> None:
    entries = [e for e in walk(library.root) if e.relpath == "clips/old.mov"]
    target = library.root / "clips/old.mov"
    target.unlink()
    target.symlink_to(library.outside / "outside.mp4")
    [(_, outcome)] = list(probe_many(entries, root=library.root))
    assert isinstance(outcome, ProbeError)
    assert outcome.code == "probe.not_regular_file"


def test_second_scan_probes_nothing(library: Library) -> None:
    first = scan_tree(library.root)
    second = scan_tree(library.root, first.index)
    assert second.plan.to_probe == []
    assert second.plan.missing == []
    assert {e.relpath for e in second.plan.unchanged} == library.media


def test_unchanged_folders_are_not_relisted(library: Library) -> None:
    first = scan_tree(library.root)
    second = scan_tree(library.root, first.index)
    assert second.stats.folders_listed == 0
    assert second.stats.folders_reused == first.stats.folders_listed


def test_a_folder_touched_just_before_the_last_scan_is_relisted(library: Library) -> None:
    os.utime(library.root / "clips")  # mtime = now, inside the racy window
    first = scan_tree(library.root)
    second = scan_tree(library.root, first.index)
    assert second.stats.folders_listed == 1


def test_touched_file_is_reprobed_alone_even_in_an_unchanged_folder(library: Library) -> None:
    first = scan_tree(library.root)
    target = library.root / "clips/vp9.webm"
    st = target.stat()
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    second = scan_tree(library.root, first.index)
    assert [e.relpath for e in second.plan.to_probe] == ["clips/vp9.webm"]
    assert second.plan.changed[0].relpath == "clips/vp9.webm"
    assert second.stats.folders_listed == 0  # detected without re-listing the folder
    outcomes = _probe_all(library, second.plan.to_probe)
    assert isinstance(outcomes["clips/vp9.webm"], ProbeResult)


def test_rewritten_file_in_place_is_changed(library: Library) -> None:
    first = scan_tree(library.root)
    target = library.root / "audio/tone.mp3"
    with target.open("ab") as fh:
        fh.write(b"\0" * 10)
    second = scan_tree(library.root, first.index)
    assert [e.relpath for e in second.plan.changed] == ["audio/tone.mp3"]
    assert second.plan.new == []


def test_trusting_folder_mtime_skips_all_stats_and_misses_in_place_edits(
    library: Library,
) -> None:
    first = scan_tree(library.root)
    target = library.root / "clips/vp9.webm"
    os.utime(target, ns=(0, target.stat().st_mtime_ns + 1_000_000_000))
    second = scan_tree(library.root, first.index, trust_folder_mtime=True)
    assert second.stats.files_statted == 0
    assert second.plan.to_probe == []  # the documented trade-off


def test_vanished_file_is_reported_missing(library: Library) -> None:
    first = scan_tree(library.root)
    (library.root / "nested/deeper/inner.mkv").unlink()
    second = scan_tree(library.root, first.index)
    assert second.plan.missing == ["nested/deeper/inner.mkv"]
    assert second.plan.to_probe == []
    assert "nested/deeper/inner.mkv" not in second.index.files


def test_new_file_in_a_nested_folder_is_new(library: Library, mp4_clip: Path) -> None:
    first = scan_tree(library.root)
    (library.root / "nested/deeper/added.mp4").write_bytes(mp4_clip.read_bytes())
    second = scan_tree(library.root, first.index)
    assert [e.relpath for e in second.plan.new] == ["nested/deeper/added.mp4"]
    assert second.stats.folders_listed == 1


def test_index_survives_json(library: Library) -> None:
    first = scan_tree(library.root)
    restored = ScanIndex.from_dict(json.loads(json.dumps(first.index.to_dict())))
    second = scan_tree(library.root, restored)
    assert second.plan.to_probe == []
    assert second.stats.folders_listed == 0


def test_changing_the_extension_list_ignores_the_old_folder_index(library: Library) -> None:
    first = scan_tree(library.root)
    second = scan_tree(library.root, first.index, extensions={".mp4"})
    assert second.stats.folders_reused == 0
    assert {e.relpath for e in second.plan.unchanged} == {
        r for r in library.media if r.endswith(".mp4")
    }


def test_undecodable_name_is_reported_and_skipped(library: Library) -> None:
    bad = os.path.join(os.fsencode(library.root), b"bad\xff.mp4")
    with open(bad, "wb") as fh:
        fh.write(b"x")
    walker = Walker(library.root)
    relpaths = {e.relpath for e in walker}
    assert relpaths == library.media
    assert [(e.relpath, e.code) for e in walker.errors] == [("", "scan.undecodable_name")]


def test_missing_root_is_an_error_not_everything_missing(tmp_path: Path) -> None:
    with pytest.raises(ScanError) as exc:
        scan_tree(tmp_path / "unmounted", ScanIndex(files={"a.mp4": (1, 1)}))
    assert exc.value.code == "scan.root_unavailable"


def test_files_under_an_unreadable_folder_are_unverified_not_missing() -> None:
    previous = {"a/x.mp4": (1, 1), "ab/y.mp4": (1, 1), "b/z.mp4": (1, 1)}
    result = plan(previous, [FileEntry("b/z.mp4", 1, 1)], unreadable=["a"])
    assert result.unverified == ["a/x.mp4"]
    assert result.missing == ["ab/y.mp4"]


_entries = st.dictionaries(
    st.text("abc/", min_size=1, max_size=4),
    st.tuples(st.integers(0, 3), st.integers(0, 3)),
    max_size=12,
)


@given(previous=_entries, current=_entries)
def test_plan_partitions_every_file_exactly_once(
    previous: dict[str, tuple[int, int]], current: dict[str, tuple[int, int]]
) -> None:
    entries = [FileEntry(k, *v) for k, v in current.items()]
    result = plan(previous, entries)
    assert {e.relpath for e in result.new} == current.keys() - previous.keys()
    assert set(result.missing) == previous.keys() - current.keys()
    assert {e.relpath for e in result.unchanged} == {
        k for k in current.keys() & previous.keys() if current[k] == previous[k]
    }
    assert {e.relpath for e in result.changed} == {
        k for k in current.keys() & previous.keys() if current[k] != previous[k]
    }
