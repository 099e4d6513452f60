"""A schedule change made through the API is compiled by a real Celery worker process,
which then renders the channel's guide into the shared cache (Redis)."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from kombu.simple import SimpleQueue

from apps.channels.models import Channel, ItemKind, Playlist, PlaylistItem, PlayoutRow
from apps.channels.tests.conftest import ClipLibrary, fragment_keys
from castcore.celery import app
from castcore.tests.celery_workers import ffmpeg_worker_env

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def default_worker(tmp_path: Path, settings: Any) -> Iterator[subprocess.Popen[bytes]]:
    """A real worker on the default queue (where playout tasks go), on the test database."""
    env = ffmpeg_worker_env(settings)  # skips without PostgreSQL and Redis
    with app.connection_for_write() as conn:
        SimpleQueue(conn, "default").clear()
    with (tmp_path / "worker.log").open("wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "castcore", "worker", "-Q", "default",
             "-P", "threads", "-c", "1", "--without-mingle", "--without-gossip",
             "-n", f"playout-{uuid.uuid4().hex[:8]}@%h"],
            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=settings.BASE_DIR,
        )  # fmt: skip
    try:
        yield worker
    finally:
        worker.terminate()
        try:
            worker.wait(15)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(10)


def test_a_new_block_is_compiled_by_the_worker_after_commit(
    default_worker: subprocess.Popen[bytes],
    clip_library: ClipLibrary,
    operator_api: Any,
    tmp_path: Path,
) -> None:
    news = Playlist.objects.create(name="News")
    PlaylistItem.objects.create(
        playlist=news, kind=ItemKind.FOLDER, source=clip_library.source, folder="Morning News"
    )
    channel = Channel.objects.create(number=1, name="One", slug="one", time_zone="Asia/Tokyo")
    response = operator_api.post(
        "/api/v1/schedule-blocks",
        {"channel": channel.pk, "playlist": news.pk, "start_time": "00:00"},
        format="json",
    )
    assert response.status_code == 201, response.content

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not PlayoutRow.objects.filter(channel=channel).exists():
        assert default_worker.poll() is None, (tmp_path / "worker.log").read_text()
        time.sleep(0.3)
    rows = list(PlayoutRow.objects.filter(channel=channel).order_by("start"))
    assert rows, (tmp_path / "worker.log").read_text()
    # A flood of one folder, daily: items back to back, up to the 7-day horizon.
    assert rows[-1].end - rows[0].start >= timedelta(days=7)
    assert sum(r.filler for r in rows) <= 8
    channel.refresh_from_db()
    assert channel.playout_compiled_at is not None


def _warmed(channel: Channel) -> bool:
    keys = fragment_keys(channel)
    return bool(keys) and all(cache.has_key(key) for key in keys)


def test_the_worker_warms_the_guide_after_compiling(
    default_worker: subprocess.Popen[bytes],
    clip_library: ClipLibrary,
    operator_api: Any,
    api: Any,
    tmp_path: Path,
    renders: list[int],
) -> None:
    news = Playlist.objects.create(name="News")
    PlaylistItem.objects.create(
        playlist=news, kind=ItemKind.FOLDER, source=clip_library.source, folder="Morning News"
    )
    channel = Channel.objects.create(number=1, name="One", slug="one", time_zone="Asia/Tokyo")
    response = operator_api.post(
        "/api/v1/schedule-blocks",
        {"channel": channel.pk, "playlist": news.pk, "start_time": "00:00"},
        format="json",
    )
    assert response.status_code == 201, response.content
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and not _warmed(channel):
        assert default_worker.poll() is None, (tmp_path / "worker.log").read_text()
        time.sleep(0.3)
    assert _warmed(channel), (tmp_path / "worker.log").read_text()

    warm = b"".join(api.get("/epg.xml").streaming_content)
    assert renders == [], "the first read found what the worker rendered"
    cache.clear()
    assert b"".join(api.get("/epg.xml").streaming_content) == warm
    assert renders == [1] and b"<programme" in warm
