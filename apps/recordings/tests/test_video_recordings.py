"""recording_create_video: the contract with the stream-jobs engineer."""

from __future__ import annotations

from pathlib import Path

import pytest

from apps.recordings.models import Recording
from apps.recordings.services import recording_create_video
from apps.recordings.tests.factories import a_user
from apps.system.models import GlobalSettings

pytestmark = pytest.mark.django_db


def test_it_moves_the_file_into_recordings_storage(tmp_path: Path, media_root: Path) -> None:
    source = tmp_path / "job-7-output.mp4"
    source.write_bytes(b"\x00" * 1234)
    owner = a_user()

    recording = recording_create_video(
        owner=owner,
        file_path=source,
        title="Job 7",
        stream_job_id=7,
        duration=12.5,
        has_audio=False,
    )

    assert not source.exists()
    stored = media_root / recording.file.name
    assert stored.is_file() and stored.stat().st_size == 1234
    assert recording.file.name.startswith("recordings/video/")
    recording.refresh_from_db()
    assert recording.kind == Recording.Kind.VIDEO
    assert recording.status == Recording.Status.AVAILABLE
    assert (recording.size, recording.duration, recording.stream_job_id) == (1234, 12.5, 7)
    assert (recording.has_audio, recording.has_video, recording.name) == (
        False,
        True,
        "job-7-output",
    )
    assert abs(recording.created_at_ms - recording.created_at.timestamp() * 1000) < 1


def test_it_takes_the_default_visibility_from_global_settings(tmp_path: Path) -> None:
    config = GlobalSettings.load()
    config.default_recording_visibility = "private"
    config.save()
    source = tmp_path / "a.webm"
    source.write_bytes(b"x")

    recording = recording_create_video(owner=a_user(), file_path=source, title="t")

    assert recording.visibility == "private"
    assert recording.file_path == f"/r/{recording.url_token}.webm"


def test_a_missing_file_creates_no_row(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        recording_create_video(owner=a_user(), file_path=tmp_path / "nope.mp4", title="t")
    assert not Recording.objects.exists()
