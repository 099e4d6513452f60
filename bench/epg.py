"""Guide and M3U for 100 channels x 7 days: playout compile, then time to first and last byte.

    .venv/bin/python bench/epg.py [--channels 100] [--days 7] [--database-url postgres://…]
        [--var-dir DIR] [--reuse] [--redis-url redis://…/8 [--rounds 3]]

Builds a library of synthetic media items (durations 5-45 min, as a scan would
record them), one playlist per channel with four daily blocks (flood, duration,
count) and a filler playlist, compiles every channel's playout to the horizon
(`playout_rebuild`, timed), then starts one `python -m castcore.serve` on the same
database and reads `/epg.xml` and `/playlist.m3u` over loopback: the time to the
first byte and to the last, best of five. The default database is SQLite in a
private temp VAR_DIR; `--database-url` names a scratch database (its channels
and media rows are replaced). With `--redis-url` (a scratch Redis database: it is
emptied) the server and this process share a Redis cache, and the first read after
a compile is measured both ways, alternated: as it was (the read renders every
channel) and after the worker's warm (`warm_channel_guides`, run here as the worker
runs it; its own time printed). See bench/README.md.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import time as wall
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def environment(
    var_dir: Path, database_url: str | None, redis_url: str | None = None
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(
        DJANGO_SETTINGS_MODULE="castcore.settings", CASTCORE_VAR_DIR=str(var_dir),
        CASTCORE_EMBEDDED_WORKER="false", DEBUG="false", SECURE_SSL_REDIRECT="false",
        CASTCORE_PLAYOUT_HORIZON_DAYS=env.get("CASTCORE_PLAYOUT_HORIZON_DAYS", "7"),
    )  # fmt: skip
    env.setdefault("SECRET_KEY", "bench-epg-secret-key-0123456789abcdefghijklmnop")
    if database_url:
        env["DATABASE_URL"] = database_url
    if redis_url:  # the distributed mode, which wants keys for secrets (the bench has none)
        env["REDIS_URL"] = redis_url
        env.setdefault(
            "CASTCORE_FERNET_KEYS",
            base64.urlsafe_b64encode(b"castcore-bench-epg-fernet-key-32").decode(),
        )
    return env


def build(channels: int, days: int) -> tuple[float, float, int]:
    """The library, playlists, channels and schedules; then the timed compile."""
    from django.db import transaction
    from django.utils import timezone

    from apps.channels.models import (
        BlockMode,
        Channel,
        ItemKind,
        Playlist,
        PlaylistItem,
        PlayoutRow,
        ScheduleBlock,
    )
    from apps.channels.services.playout import playout_rebuild
    from apps.media.models import MediaItem, StorageSource
    from apps.streams.models import FFmpegProfile

    rng = random.Random(7)
    with transaction.atomic():
        PlayoutRow.objects.all().delete()
        ScheduleBlock.objects.all().delete()
        Channel.objects.all().delete()
        PlaylistItem.objects.all().delete()
        Playlist.objects.all().delete()
        StorageSource.objects.filter(name="bench-epg").delete()
        source = StorageSource.objects.create(name="bench-epg", kind="local", path="/srv/bench")
        # Channels with no output profile cannot play: the M3U and the lineup leave them out.
        profile, _ = FFmpegProfile.objects.get_or_create(name="bench-epg")
        now = timezone.now()
        items = MediaItem.objects.bulk_create(
            MediaItem(
                source=source,
                relpath=f"Show {i % 40} & <Co>/Show {i % 40} - S{i % 5 + 1:02d}E{i:03d} "
                f"- Ep \"{i}\".mkv",
                duration=rng.uniform(300, 2700), probed_at=now, width=1280, height=720,
            )
            for i in range(2000)
        )  # fmt: skip
        bumpers = MediaItem.objects.bulk_create(
            MediaItem(source=source, relpath=f"Filler/bumper {i}.mp4", duration=30.0 + i,
                      probed_at=now)
            for i in range(5)
        )  # fmt: skip
        filler = Playlist.objects.create(name="bench filler")
        PlaylistItem.objects.bulk_create(
            PlaylistItem(playlist=filler, position=i, kind=ItemKind.MEDIA, media_item=b)
            for i, b in enumerate(bumpers)
        )
        for n in range(channels):
            playlist = Playlist.objects.create(
                name=f"bench {n}", order=("in_order", "shuffle", "random")[n % 3]
            )
            PlaylistItem.objects.bulk_create(
                PlaylistItem(playlist=playlist, position=i, kind=ItemKind.MEDIA, media_item=m)
                for i, m in enumerate(rng.sample(items, 60))
            )
            channel = Channel.objects.create(
                number=n + 1, name=f"Bench, \"{n + 1}\"", slug=f"bench-{n + 1}",
                time_zone=("Europe/Paris", "America/New_York", "Asia/Tokyo", "UTC")[n % 4],
                group=f"Group {n % 7}", filler_playlist=filler, output_profile=profile,
            )  # fmt: skip
            for hour, mode in ((0, BlockMode.FLOOD), (6, BlockMode.DURATION),
                               (12, BlockMode.COUNT), (18, BlockMode.FLOOD)):  # fmt: skip
                ScheduleBlock.objects.create(
                    channel=channel, playlist=playlist, start_time=wall(hour), mode=mode,
                    duration=4 * 3600 if mode == BlockMode.DURATION else None,
                    count=6 if mode == BlockMode.COUNT else None,
                )  # fmt: skip
    started, cpu = time.perf_counter(), time.process_time()
    rows = 0
    for channel in Channel.objects.order_by("number"):
        rows += playout_rebuild(channel=channel, horizon=timedelta(days=days))
    return time.perf_counter() - started, time.process_time() - cpu, rows


def fetch(port: int, path: str) -> tuple[float, float, int]:
    """(seconds to the first body byte, to the last, bytes) for one GET."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    started = time.perf_counter()
    connection.request("GET", path)
    response = connection.getresponse()
    first = response.read(1)
    ttfb = time.perf_counter() - started
    size = len(first) + len(response.read())
    ttlb = time.perf_counter() - started
    connection.close()
    assert response.status == 200, response.status
    return ttfb, ttlb, size


def cpu_seconds(pid: int) -> float:
    """User + system CPU the process has used: a figure the machine's load does not inflate."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def serve(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    from castcore.tests.test_run_modes import free_port, stop

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "castcore.serve", "-b", "127.0.0.1", "-p", str(port),
         "castcore.asgi:application"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    for _ in range(150):
        try:
            fetch(port, "/lineup_status.json")
            return server, port
        except (OSError, AssertionError, http.client.HTTPException):
            time.sleep(0.2)
    stop(server)
    raise SystemExit("the server did not start")


def first_reads(server: subprocess.Popen[bytes], port: int, rounds: int) -> None:
    """The first guide read after a compile, as it was and after the worker's warm, alternated.

    A compile gives every channel it writes a new cache key; emptying the cache does that
    to all of them at once. The warm runs here, as the worker runs it, on the same Redis.
    """
    from django.core.cache import cache

    from apps.channels.models import Channel
    from workers.channels import warm_channel_guides

    ids = list(Channel.objects.values_list("pk", flat=True))
    for n in range(rounds):
        for mode in ("unwarmed", "warmed"):
            cache.clear()
            warm_s = 0.0
            if mode == "warmed":
                started = time.perf_counter()
                warm_channel_guides(ids)
                warm_s = time.perf_counter() - started
            load = os.getloadavg()[0]
            cpu = cpu_seconds(server.pid)
            _, ttlb, _ = fetch(port, "/epg.xml")
            print(f"round={n + 1} {mode} epg_xml_first_read_ttlb_ms={ttlb * 1000:.0f} "
                  f"first_read_server_cpu_ms={(cpu_seconds(server.pid) - cpu) * 1000:.0f}"
                  + (f" worker_warm_s={warm_s:.2f}" if mode == "warmed" else "")
                  + f" load_average={load:.1f}", flush=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--channels", type=int, default=100)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--database-url", default=None, help="a scratch database")
    parser.add_argument(
        "--reuse", action="store_true", help="keep what an earlier run compiled there"
    )
    parser.add_argument(
        "--var-dir", type=Path, default=None,
        help="a SQLite VAR_DIR kept between runs (with --reuse: compile once, compare builds)",
    )  # fmt: skip
    parser.add_argument(
        "--redis-url", default=None,
        help="a scratch Redis database (emptied): the first read after a compile, warmed or not",
    )  # fmt: skip
    parser.add_argument("--rounds", type=int, default=3, help="of the first-read comparison")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="castcore-bench-epg-"))
    env = environment(args.var_dir or root / "var", args.database_url, args.redis_url)
    os.environ.update(env)
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
                   cwd=ROOT, env=env, check=True)  # fmt: skip
    import django

    django.setup()
    from castcore.tests.test_run_modes import stop

    print(f"load_average={os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs", flush=True)
    if not (args.reuse and (args.database_url or args.var_dir)):
        compile_s, compile_cpu_s, rows = build(args.channels, args.days)
        backend = "postgresql" if args.database_url else "sqlite"
        print(f"playout_compile_s={compile_s:.2f} playout_compile_cpu_s={compile_cpu_s:.2f} "
              f"({args.channels} channels x {args.days} days, {rows} rows, {backend}; CPU of "
              f"the bench process, SQLite's included, PostgreSQL's not)", flush=True)  # fmt: skip
    server, port = serve(env)
    try:
        fetch(port, "/lineup.json")  # the server's first request (imports) not counted
        for path in ("/epg.xml", "/playlist.m3u"):
            # The first read after a compile renders every channel's programmes (and keeps
            # them: apps.channels.feeds.guide_chunks); the next five are what clients see.
            cold_cpu = cpu_seconds(server.pid)
            _, cold_ttlb, _ = fetch(port, path)
            name = path.strip("/").replace(".", "_")
            print(f"{name}_first_read_ttlb_ms={cold_ttlb * 1000:.0f} "
                  f"{name}_first_read_server_cpu_ms="
                  f"{(cpu_seconds(server.pid) - cold_cpu) * 1000:.0f}", flush=True)  # fmt: skip
            cpu_before = cpu_seconds(server.pid)
            runs = [fetch(port, path) for _ in range(5)]
            cpu = (cpu_seconds(server.pid) - cpu_before) / len(runs)
            ttfb, ttlb, size = min(runs, key=lambda r: r[1])
            worst = max(r[1] for r in runs)
            print(f"{name}_ttfb_ms={ttfb * 1000:.0f} {name}_ttlb_ms={ttlb * 1000:.0f} "
                  f"{name}_ttlb_worst_ms={worst * 1000:.0f} "
                  f"{name}_server_cpu_ms={cpu * 1000:.0f} ({size / 1e6:.1f} MB, best and "
                  f"worst of 5, CPU a request on average; aim: last byte < 500 ms)",
                  flush=True)  # fmt: skip
        if args.redis_url:
            first_reads(server, port, args.rounds)
        print(f"load_average={os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs", flush=True)
    finally:
        stop(server)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
