"""Scan benchmark: first-scan probe throughput vs plain ffprobe, and the cost
of an unchanged rescan of 10,000 files, engine only and through the real scan
service (rows loaded, planned against, counters and index saved) on a
throw-away SQLite database.

    .venv/bin/python bench/bench_scan.py [--files 200] [--parallelism 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from apps.media.scanner import ScanIndex, probe_many, scan_tree
from workers.ffmpeg.probe import ProbeResult
from workers.ffmpeg.testing import make_audio, make_video

HOUR_NS = 3600 * 1_000_000_000


def _age_tree(root: Path) -> None:
    # Folders modified within 2 s of a scan are re-listed on purpose (coarse
    # mtimes); a real library at rest is older than that.
    past = time.time_ns() - HOUR_NS
    for dirpath, _, _ in os.walk(root):
        os.utime(dirpath, ns=(past, past))


def _make_media(root: Path, count: int) -> list[Path]:
    seeds = root / "seeds"
    seeds.mkdir()
    clips = [
        make_video(seeds / "a.mp4", seconds=2),
        make_video(seeds / "b.mkv", seconds=2),
        make_video(seeds / "c.ts", seconds=2),
        make_audio(seeds / "d.mp3", seconds=2),
    ]
    paths = []
    for i in range(count):
        src = clips[i % len(clips)]
        dest = root / "lib" / f"folder{i % 10:02d}" / f"file {i:04d}{src.suffix}"
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.link(src, dest)  # hardlinks: N files, no extra encoding time
        paths.append(dest)
    return paths


def _plain_ffprobe(paths: list[Path], parallelism: int) -> float:
    def one(path: Path) -> int:
        argv = ["ffprobe", "-v", "error", "-show_format", "-show_streams", "-of", "json"]
        return subprocess.run([*argv, str(path)], capture_output=True, check=False).returncode

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=parallelism) as pool:
        codes = list(pool.map(one, paths))
    elapsed = time.perf_counter() - started
    assert codes.count(0) == len(paths), "plain ffprobe failed on some files"
    return elapsed


def _castcore_first_scan(root: Path, parallelism: int) -> float:
    started = time.perf_counter()
    tree = scan_tree(root)
    outcomes = list(probe_many(tree.plan.to_probe, root=root, parallelism=parallelism))
    elapsed = time.perf_counter() - started
    ok = sum(isinstance(r, ProbeResult) for _, r in outcomes)
    assert ok == len(outcomes), "castcore failed on some files"
    return elapsed


def _best(fn: Callable[[], float], rounds: int) -> float:
    return min(fn() for _ in range(rounds))


def bench_first_scan(tmp: Path, count: int, parallelism: int, rounds: int) -> None:
    paths = _make_media(tmp, count)
    lib = tmp / "lib"
    _plain_ffprobe(paths[:10], parallelism)  # warm the page cache and the binary
    # Interleave the two so drift (thermal, other load) hits both alike.
    plain: list[float] = []
    ours: list[float] = []
    for _ in range(rounds):
        plain.append(_plain_ffprobe(paths, parallelism))
        ours.append(_castcore_first_scan(lib, parallelism))
    plain_rate = count / min(plain)
    our_rate = count / min(ours)
    print(
        f"first_scan_ratio={our_rate / plain_rate:.2f} "
        f"(castcore {our_rate:.1f} files/s, ffprobe {plain_rate:.1f} files/s, "
        f"P={parallelism}, N={count})"
    )


def bench_rescan(tmp: Path, count: int, rounds: int) -> None:
    root = tmp / "big"
    per_folder = 100
    exts = (".mp4", ".mkv", ".mov", ".ts", ".mp3")
    for i in range(count):
        folder = root / f"show{i // per_folder:03d}"
        if i % per_folder == 0:
            folder.mkdir(parents=True)
        (folder / f"episode {i:05d}{exts[i % len(exts)]}").write_bytes(b"x")
    _age_tree(root)

    def timed(previous: ScanIndex | None, trust: bool = False) -> tuple[float, ScanIndex]:
        started = time.perf_counter()
        tree = scan_tree(root, previous, trust_folder_mtime=trust)
        elapsed = time.perf_counter() - started
        if previous is not None:
            assert not tree.plan.to_probe, "unchanged rescan planned probes"
            assert not tree.plan.missing, "unchanged rescan reported missing files"
        return elapsed, tree.index

    first, index = timed(None)
    full = statistics.median(timed(None)[0] for _ in range(rounds))
    reuse = statistics.median(timed(index)[0] for _ in range(rounds))
    trust = statistics.median(timed(index, trust=True)[0] for _ in range(rounds))
    print(f"unchanged_rescan_{count}={reuse:.2f}s (walk+plan; folders reused, files lstat'ed)")
    print(f"unchanged_rescan_{count}_trust_folder_mtime={trust:.2f}s (no per-file stat)")
    print(f"full_listing_{count}={full:.2f}s (no previous index; first cold-ish walk {first:.2f}s)")


def _django(tmp: Path) -> None:
    """A private SQLite database under tmp: the bench never touches a real one."""
    os.environ["CASTCORE_VAR_DIR"] = str(tmp / "var")
    for name in ("DATABASE_URL", "REDIS_URL", "CASTCORE_FERNET_KEYS", "SECRET_KEY"):
        os.environ.pop(name, None)
    os.environ["DJANGO_SETTINGS_MODULE"] = "castcore.settings_test"
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def bench_service_rescan(tmp: Path, count: int, rounds: int) -> None:
    """Unchanged rescan through media_scan_start + media_scan_run, DB work included."""
    _django(tmp)
    from django.utils import timezone

    from apps.media.models import MediaItem, StorageSource
    from apps.media.services import media_scan_run, media_scan_start

    root = tmp / "big"
    tree = scan_tree(root)
    source = StorageSource.objects.create(name="bench", kind="local", path=str(root))
    now = timezone.now()
    # Rows as a finished first scan leaves them (probing 10k 1-byte files would only
    # measure ffprobe failing); the index too, as _finish() stores it.
    MediaItem.objects.bulk_create(
        [
            MediaItem(source=source, relpath=e.relpath, size=e.size, mtime_ns=e.mtime_ns,
                      probed_at=now, probe_error_code="probe.invalid_data")
            for e in tree.plan.new
        ],
        batch_size=1000,
    )  # fmt: skip
    StorageSource.objects.filter(pk=source.pk).update(scan_index=tree.index.to_dict())
    times = []
    for _ in range(rounds):
        source.refresh_from_db()
        started = time.perf_counter()
        scan = media_scan_start(source=source, dispatch=False)
        done = media_scan_run(scan_id=scan.pk)
        times.append(time.perf_counter() - started)
        assert done is not None and done.state == "done", done and done.error_code
        assert (done.probed, done.unchanged, done.missing) == (0, count, 0), done
    print(
        f"unchanged_rescan_{count}_service={statistics.median(times):.2f}s "
        f"(media_scan_start+media_scan_run: walk, plan against {count} rows, save; SQLite)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--parallelism", type=int, default=2)
    parser.add_argument("--rescan-files", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="castcore-bench-") as tmp:
        bench_first_scan(Path(tmp), args.files, args.parallelism, args.rounds)
        bench_rescan(Path(tmp), args.rescan_files, args.rounds)
        bench_service_rescan(Path(tmp), args.rescan_files, args.rounds)


if __name__ == "__main__":
    main()
