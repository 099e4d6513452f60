"""Scanning a real generated library through the API and the task function."""

from __future__ import annotations

import os
from typing import Any

import pytest

from apps.media.models import MediaItem, MediaScan
from apps.media.tests.factories import make_source
from apps.media.tests.helpers import probed_at, scan_via_api
from workers.ffmpeg.testing import Library

pytestmark = pytest.mark.django_db


@pytest.fixture
def source(library: Library) -> Any:
    return make_source(path=str(library.root), scan_parallelism=4)


def test_first_scan_records_every_media_file_and_every_error(
    operator_api: Any, source: Any, library: Library
) -> None:
    scan = scan_via_api(operator_api, source)
    assert (scan.state, scan.progress) == ("done", 100)
    items = {i.relpath: i for i in MediaItem.objects.filter(source=source)}
    # Odd names (leading '-', quotes, unicode, spaces) are there; hidden files,
    # non-media and every symlink (inside or escaping) are not.
    assert set(items) == library.media
    assert not set(items) & library.ignored
    for relpath, codec in library.valid.items():
        assert items[relpath].probe_error_code == "", relpath
        assert items[relpath].video_codec == codec, relpath
        assert items[relpath].probed_at is not None
    for relpath, code in library.broken.items():
        assert items[relpath].probe_error_code == code, relpath
        assert str(library.root) not in items[relpath].probe_error_detail
    assert items["-rf.mp4"].duration and items["-rf.mp4"].width
    assert (
        items["audio/tone.flac"].audio_codec == "flac"
        and items["audio/tone.flac"].video_codec == ""
    )
    total = len(library.media)
    assert (scan.total, scan.new, scan.probed, scan.failed) == (
        total,
        total,
        total,
        len(library.broken),
    )
    source.refresh_from_db()
    assert source.last_scan_summary["scan_id"] == scan.pk and source.scan_index["files"]


def test_a_second_scan_probes_nothing(operator_api: Any, source: Any, library: Library) -> None:
    scan_via_api(operator_api, source)
    before = probed_at(source)
    second = scan_via_api(operator_api, source)
    assert (second.to_probe, second.probed, second.new, second.changed) == (0, 0, 0, 0)
    assert second.unchanged == len(library.media) and second.progress == 100
    assert probed_at(source) == before  # not one row was re-probed


def test_touching_one_file_reprobes_only_that_file(
    operator_api: Any, source: Any, library: Library
) -> None:
    scan_via_api(operator_api, source)
    before = probed_at(source)
    target = library.root / "clips/h264.mp4"
    st = target.stat()
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    scan = scan_via_api(operator_api, source)
    assert (scan.changed, scan.probed, scan.new) == (1, 1, 0)
    after = probed_at(source)
    assert [rel for rel in after if after[rel] != before[rel]] == ["clips/h264.mp4"]


def test_a_vanished_file_is_marked_missing_not_deleted(
    operator_api: Any, source: Any, library: Library
) -> None:
    scan_via_api(operator_api, source)
    (library.root / "clips/vp9.webm").unlink()
    scan = scan_via_api(operator_api, source)
    assert (scan.missing, scan.probed) == (1, 0)
    item = MediaItem.objects.get(source=source, relpath="clips/vp9.webm")
    assert item.missing and item.missing_since is not None and item.video_codec == "vp9"
    assert MediaItem.objects.filter(source=source, missing=False).count() == len(library.media) - 1


def test_a_full_scan_reprobes_everything(operator_api: Any, source: Any, library: Library) -> None:
    scan_via_api(operator_api, source)
    scan = scan_via_api(operator_api, source, full=True)
    everything = len(library.media)
    assert (scan.full, scan.probed, scan.unchanged) == (True, everything, everything)
    assert scan.new + scan.changed + scan.unchanged == scan.total


def test_a_missing_root_fails_the_scan_and_marks_nothing_missing(
    operator_api: Any, source: Any, library: Library, tmp_path: Any
) -> None:
    scan_via_api(operator_api, source)
    library.root.rename(tmp_path / "elsewhere")
    scan = scan_via_api(operator_api, source)
    assert (scan.state, scan.error_code) == ("failed", "scan.root_unavailable")
    assert not MediaItem.objects.filter(source=source, missing=True).exists()


def test_start_sends_the_task_to_the_scans_queue_after_commit(
    operator_api: Any, source: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from castcore.celery import app

    with app.connection_for_write() as conn:
        conn.SimpleQueue("scans").clear()  # leftovers of an earlier run on a shared Redis
    with django_capture_on_commit_callbacks(execute=True):
        response = operator_api.post(f"/api/v1/storage-sources/{source.pk}/scan")
    assert response.status_code == 202
    # Read the message back from the real broker (memory:// here, Redis in CI).
    with app.connection_for_read() as conn:
        queue = conn.SimpleQueue("scans")
        message = queue.get(timeout=5)
        message.ack()
        queue.close()
    assert message.headers["task"] == "scans.scan_storage_source"
    assert message.payload[0] == [response.json()["id"]]  # only the id travels


def test_a_second_start_while_one_is_queued_is_409(operator_api: Any, source: Any) -> None:
    first = operator_api.post(f"/api/v1/storage-sources/{source.pk}/scan")
    second = operator_api.post(f"/api/v1/storage-sources/{source.pk}/scan")
    assert second.status_code == 409
    assert second.json()["error"] == {
        "code": "scan.already_running", "params": {"scan_id": first.json()["id"]}, "level": "error",
    }  # fmt: skip
    assert MediaScan.objects.filter(source=source).count() == 1


def test_an_abandoned_scan_does_not_block_forever(operator_api: Any, source: Any) -> None:
    from datetime import timedelta

    from django.utils import timezone

    stale = operator_api.post(f"/api/v1/storage-sources/{source.pk}/scan").json()["id"]
    MediaScan.objects.filter(pk=stale).update(
        state="running", heartbeat_at=timezone.now() - timedelta(hours=2)
    )
    response = operator_api.post(f"/api/v1/storage-sources/{source.pk}/scan")
    assert response.status_code == 202
    assert MediaScan.objects.get(pk=stale).error_code == "scan.abandoned"


def test_scan_status_is_readable_by_viewers(
    viewer_api: Any, operator_api: Any, source: Any
) -> None:
    scan = scan_via_api(operator_api, source)
    body = viewer_api.get(f"/api/v1/media-scans/{scan.pk}").json()
    assert body["state"] == "done" and body["probed"] == scan.probed and body["source"] == source.pk
    assert viewer_api.post(f"/api/v1/storage-sources/{source.pk}/scan").status_code == 403
