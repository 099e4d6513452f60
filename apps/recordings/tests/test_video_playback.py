"""A video recording made by real ffmpeg gets its browser-playable copy and poster.

The recording is Matroska with H.264 and AAC, as a stream job's recording output
writes it; the task is called as a worker calls it, ffmpeg and ffprobe are real.
"""

from __future__ import annotations

import io
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from PIL import Image
from rest_framework.test import APIClient

from apps.recordings.models import Recording
from apps.recordings.services import recording_create_video, recording_delete
from apps.recordings.tests.factories import a_user
from apps.recordings.tests.test_file_download import content
from castcore.tests.celery_workers import ffmpeg_worker_env
from workers.ffmpeg.probe import probe
from workers.ffmpeg.tests.test_playable import (
    assert_fragmented_mp4,
    make_engine_recording,
    packet_sizes,
)
from workers.recordings import make_recording_playable

pytestmark = [pytest.mark.slow, pytest.mark.django_db]


@pytest.fixture
def engine_file(tmp_path: Path) -> Path:
    return make_engine_recording(tmp_path / "run" / "recording-000.mkv")


def saved_video(source: Path, **kwargs: Any) -> Recording:
    """What apps.streams does at the end of a run: hand the file over (no resolution)."""
    return recording_create_video(
        owner=kwargs.pop("owner", None) or a_user(),
        file_path=source,
        title="Studio A — run 1",
        stream_job_id=7,
        duration=4.0,
        **kwargs,
    )


def test_saving_a_video_sends_the_playable_task_after_commit(
    engine_file: Path, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        recording = saved_video(engine_file)
    # The task goes out once the row is there for it (beside the recording.ready event's).
    playable = [c for c in callbacks if "_dispatch_make_playable" in c.__qualname__]
    assert len(playable) == 1
    assert not recording.playable_file and not recording.resolution


def test_a_copy_interrupted_by_a_stopping_worker_is_sent_again_and_records_no_error(
    engine_file: Path, media_root: Path, django_capture_on_commit_callbacks: Any
) -> None:
    from apps.recordings.services import recording_make_playable
    from castcore.stopping import mark_worker_started, mark_worker_stopping

    recording = saved_video(engine_file)
    mark_worker_stopping()
    try:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            assert recording_make_playable(recording_id=recording.pk) is None
    finally:
        mark_worker_started()
    assert len(callbacks) == 1  # the task goes out again, for a worker that stays
    recording.refresh_from_db()
    assert (recording.playable_file.name, recording.playable_error) == ("", "")


def test_the_playable_copy_is_a_remux_into_fragmented_mp4_with_a_poster(
    engine_file: Path, media_root: Path
) -> None:
    recording = saved_video(engine_file)
    original = media_root / recording.file.name

    make_recording_playable(recording.pk)

    recording.refresh_from_db()
    playable = media_root / recording.playable_file.name
    poster = media_root / recording.poster.name
    assert recording.playable_error == ""
    assert playable.parent == original.parent and original.is_file()  # the original stays
    result = probe(playable)
    assert [s.codec for s in result.streams] == ["h264", "aac"]
    assert packet_sizes(playable, "v:0") == packet_sizes(original, "v:0")  # copied
    assert packet_sizes(playable, "a:0") == packet_sizes(original, "a:0")
    assert_fragmented_mp4(playable)
    with Image.open(poster) as image:
        assert image.format == "JPEG" and image.size == (320, 240)
    assert recording.resolution == "320x240"


def test_the_api_gives_resolution_and_the_playable_urls(
    engine_file: Path, operator_api: APIClient
) -> None:
    recording = saved_video(engine_file)
    make_recording_playable(recording.pk)

    item = operator_api.get(f"/api/v1/recordings/{recording.url_token}").json()

    assert item["resolution"] == "320x240"
    assert item["playable_url"] == f"http://testserver/r/{recording.url_token}/video.mp4"
    assert item["poster_url"] == f"http://testserver/r/{recording.url_token}/poster.jpg"
    assert item["file_url"] == f"http://testserver/r/{recording.url_token}.mkv"


def test_a_range_request_on_the_playable_copy_gets_206_and_those_bytes(
    engine_file: Path, media_root: Path
) -> None:
    recording = saved_video(engine_file)
    make_recording_playable(recording.pk)
    recording.refresh_from_db()
    data = (media_root / recording.playable_file.name).read_bytes()
    url = f"/r/{recording.url_token}/video.mp4"

    response = Client().get(url, HTTP_RANGE="bytes=1000-4999")

    assert response.status_code == 206
    assert response["Content-Type"] == "video/mp4" and response["Accept-Ranges"] == "bytes"
    assert response["Content-Range"] == f"bytes 1000-4999/{len(data)}"
    assert content(response) == data[1000:5000]
    tail = Client().get(url, HTTP_RANGE="bytes=-100")
    assert tail.status_code == 206 and content(tail) == data[-100:]
    poster = Client().get(f"/r/{recording.url_token}/poster.jpg")
    assert poster.status_code == 200 and poster["Content-Type"] == "image/jpeg"
    # Like every file of an unlisted recording: not by its id.
    assert Client().get(f"/r/{recording.pk}/video.mp4").status_code == 404


def test_the_page_plays_the_copy_with_its_poster(engine_file: Path) -> None:
    recording = saved_video(engine_file)
    before = Client().get(f"/r/{recording.url_token}")
    assert b"being prepared" in before.content and b"<video" not in before.content

    make_recording_playable(recording.pk)

    page = Client().get(f"/r/{recording.url_token}").content.decode()
    assert f'src="/r/{recording.url_token}/video.mp4"' in page
    assert f'poster="/r/{recording.url_token}/poster.jpg"' in page


def test_a_file_ffprobe_cannot_read_is_recorded_not_raised(tmp_path: Path) -> None:
    source = tmp_path / "broken.mkv"
    source.write_bytes(b"\x1a\x45\xdf\xa3" + b"\x00" * 4096)
    recording = saved_video(source)

    make_recording_playable(recording.pk)

    recording.refresh_from_db()
    assert recording.playable_error.startswith("probe.")
    assert not recording.playable_file and not recording.poster
    page = Client().get(f"/r/{recording.url_token}")
    assert page.status_code == 200 and b"be played in the browser" in page.content
    assert Client().get(f"/r/{recording.url_token}/video.mp4").status_code == 404


def test_deleting_a_video_removes_the_copy_and_the_poster_too(
    engine_file: Path, media_root: Path, django_capture_on_commit_callbacks: Any
) -> None:
    recording = saved_video(engine_file)
    make_recording_playable(recording.pk)
    recording.refresh_from_db()
    files = [media_root / name for name in recording.stored_names]
    assert len(files) == 3 and all(path.is_file() for path in files)

    with django_capture_on_commit_callbacks(execute=True):
        recording_delete(recording=recording, actor=None)

    assert not any(path.exists() for path in files)


def test_a_recording_deleted_before_the_task_runs_leaves_nothing(
    engine_file: Path, media_root: Path
) -> None:
    recording = saved_video(engine_file)
    folder = (media_root / recording.file.name).parent
    Recording.objects.filter(pk=recording.pk).delete()
    (media_root / recording.file.name).unlink()

    make_recording_playable(recording.pk)

    assert list(folder.iterdir()) == []


@pytest.fixture
def ffmpeg_worker(tmp_path: Path, settings: Any) -> Iterator[subprocess.Popen[bytes]]:
    """A real Celery worker on the ffmpeg queue, on the test database and this MEDIA_ROOT."""
    env = ffmpeg_worker_env(settings)
    with (tmp_path / "worker.log").open("wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "castcore", "worker", "-Q", "ffmpeg",
             "-P", "threads", "-c", "1", "--without-mingle", "--without-gossip",
             "-n", f"playable-{uuid.uuid4().hex[:8]}@%h"],
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


@pytest.mark.django_db(transaction=True)
def test_a_worker_makes_the_copy_of_a_video_saved_in_another_process(
    engine_file: Path, media_root: Path, ffmpeg_worker: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    recording = saved_video(engine_file)  # commits: the task goes out with the id

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not recording.playable_file:
        assert ffmpeg_worker.poll() is None, (tmp_path / "worker.log").read_text()
        time.sleep(0.2)
        recording.refresh_from_db()

    assert recording.playable_file, (tmp_path / "worker.log").read_text()
    assert recording.resolution == "320x240" and recording.poster
    assert_fragmented_mp4(media_root / recording.playable_file.name)


def test_the_command_makes_copies_for_videos_saved_without_one(
    engine_file: Path, tmp_path: Path
) -> None:
    from django.core.management import call_command

    older = saved_video(engine_file)  # as if saved before CastCore made copies
    broken_file = tmp_path / "broken.mkv"
    broken_file.write_bytes(b"\x00" * 512)
    broken = saved_video(broken_file)
    out = io.StringIO()

    call_command("make_recordings_playable", stdout=out)

    older.refresh_from_db()
    broken.refresh_from_db()
    assert older.playable_file and older.poster and older.resolution == "320x240"
    assert broken.playable_error.startswith("probe.")
    printed = out.getvalue()
    assert "2 video recording(s)" in printed and f"[1/2] recording {older.pk}: ok" in printed
    again = io.StringIO()
    call_command("make_recordings_playable", stdout=again)
    assert "0 video recording(s)" in again.getvalue()  # failures wait for --retry-failed


def record_a_stream_job(**profile: Any) -> Recording:
    """The file the engine really writes: a job with recording on, run by its supervisor."""
    from apps.streams.services import stream_job_stop
    from apps.streams.tests.factories import job_with_outputs, new_profile
    from apps.streams.tests.helpers import start_and_play

    job = job_with_outputs(
        {"kind": "udp", "url": "udp://127.0.0.1:9", "stream_key": ""},
        recording_enabled=True,
        profile=new_profile(**profile),
    )
    thread = start_and_play(job, 2.0)
    stream_job_stop(actor=None, job=job)
    thread.join(20)
    recording = Recording.objects.get(stream_job_id=job.pk)
    assert recording.file.name.endswith(".mkv")
    return recording


@pytest.mark.django_db(transaction=True)
def test_a_stream_jobs_h264_420_recording_is_remuxed_not_reencoded(media_root: Path) -> None:
    recording = record_a_stream_job(pix_fmt="yuv420p")

    make_recording_playable(recording.pk)

    recording.refresh_from_db()
    original, playable = media_root / recording.file.name, media_root / recording.playable_file.name
    assert recording.playable_error == "" and recording.resolution == "320x240"
    assert packet_sizes(playable, "v:0") == packet_sizes(original, "v:0")
    assert packet_sizes(playable, "a:0") == packet_sizes(original, "a:0")
    assert_fragmented_mp4(playable)


@pytest.mark.django_db(transaction=True)
def test_a_stream_jobs_h264_444_video_is_reencoded_and_its_aac_copied(media_root: Path) -> None:
    # A profile without pix_fmt keeps the source's: lavfi's RGB makes High 4:4:4 H.264,
    # which Firefox and Safari cannot decode.
    recording = record_a_stream_job(pix_fmt="")

    make_recording_playable(recording.pk)

    recording.refresh_from_db()
    original, playable = media_root / recording.file.name, media_root / recording.playable_file.name
    assert probe(original).video_streams[0].pix_fmt == "yuv444p"
    video = probe(playable).video_streams[0]
    assert (video.codec, video.pix_fmt) == ("h264", "yuv420p")
    assert packet_sizes(playable, "a:0") == packet_sizes(original, "a:0")
    assert_fragmented_mp4(playable)


def test_deleting_a_recording_loaded_before_its_copy_was_made_removes_the_copy_too(
    engine_file: Path, media_root: Path, django_capture_on_commit_callbacks: Any
) -> None:
    recording = saved_video(engine_file)
    stale = Recording.objects.get(pk=recording.pk)  # e.g. an admin page opened meanwhile
    make_recording_playable(recording.pk)
    recording.refresh_from_db()
    files = [media_root / name for name in recording.stored_names]
    assert len(files) == 3

    with django_capture_on_commit_callbacks(execute=True):
        recording_delete(recording=stale, actor=None)

    assert not any(path.exists() for path in files)
