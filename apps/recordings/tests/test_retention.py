"""Unclaimed recordings: hidden after H days (410), deleted with their files after D days."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from apps.accounts.models import User
from apps.recordings.models import Recording
from apps.recordings.services import recordings_cleanup_unclaimed
from apps.recordings.tests.factories import VideoRecordingFactory, a_recording, a_temporary_user
from apps.recordings.tests.helpers import cli_client
from apps.system.models import GlobalSettings
from workers.recordings import cleanup_unclaimed_recordings

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _thresholds() -> None:
    config = GlobalSettings.load()
    config.unclaimed_hide_after_days, config.unclaimed_delete_after_days = 3, 10
    config.save()


def aged(days: float, **kwargs: object) -> Recording:
    return a_recording(created_at=timezone.now() - timedelta(days=days), **kwargs)


def test_unclaimed_recordings_are_hidden_after_h_days_and_answer_410() -> None:
    temp = a_temporary_user()
    old, fresh, claimed = aged(4, owner=temp), aged(1, owner=temp), aged(40)

    report = recordings_cleanup_unclaimed()

    assert report.hidden == [old.pk] and report.deleted == []
    old.refresh_from_db()
    assert old.hidden_at is not None
    assert Client().get(f"/r/{old.pk}").status_code == 410
    assert Client().get(f"/r/{old.pk}.cast").status_code == 410
    assert Client().get(f"/r/{fresh.pk}").status_code == 200
    assert Recording.objects.get(pk=claimed.pk).hidden_at is None


def test_unclaimed_recordings_are_deleted_with_their_files_after_d_days(
    django_capture_on_commit_callbacks: object, media_root: Path
) -> None:
    temp = a_temporary_user()
    doomed, kept = aged(11, owner=temp), aged(11)
    path = media_root / doomed.file.name
    assert path.is_file()

    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        report = recordings_cleanup_unclaimed()

    assert report.deleted == [doomed.pk] and report.freed_bytes == doomed.size
    assert not Recording.objects.filter(pk=doomed.pk).exists()
    assert not path.exists()
    assert (media_root / kept.file.name).is_file()


def test_the_bytes_freed_count_a_videos_playable_copy_and_poster(media_root: Path) -> None:
    doomed: Any = VideoRecordingFactory(
        owner=a_temporary_user(),
        created_at=timezone.now() - timedelta(days=11),
        playable_file=ContentFile(b"\0" * 300, name="recordings/video/v.playable.mp4"),
        playable_size=300,
        poster=ContentFile(b"\0" * 40, name="recordings/video/v.poster.jpg"),
        poster_size=40,
    )
    report = recordings_cleanup_unclaimed()
    assert report.deleted == [doomed.pk] and report.freed_bytes == 2048 + 300 + 40


def test_temporary_accounts_left_empty_go_too() -> None:
    temp = a_temporary_user(date_joined=timezone.now() - timedelta(days=11))
    aged(12, owner=temp)
    report = recordings_cleanup_unclaimed()
    assert report.temporary_users_deleted == 1
    assert not User.objects.filter(pk=temp.pk).exists()


def test_the_asciinema_api_answers_410_for_a_hidden_recording() -> None:
    client = cli_client()
    created = client.post("/api/v1/recordings", {"file": _cast()}, format="multipart").json()
    Recording.objects.filter(pk=created["id"]).update(created_at=timezone.now() - timedelta(days=5))
    recordings_cleanup_unclaimed()
    response = client.patch(f"/api/v1/recordings/{created['id']}", {"title": "x"}, format="json")
    assert response.status_code == 410 and response.json()["code"] == "recording.gone"


def test_the_beat_task_and_the_command_run_the_same_cleanup() -> None:
    temp = a_temporary_user()
    first, second = aged(4, owner=temp), aged(11, owner=temp)

    assert cleanup_unclaimed_recordings() == {
        "hidden": 1, "deleted": 1, "freed_bytes": second.size, "temporary_users_deleted": 0,
        "stale_streams_reset": 0,
    }  # fmt: skip
    Recording.objects.filter(pk=first.pk).update(created_at=timezone.now() - timedelta(days=12))
    out = StringIO()
    call_command("cleanup_recordings", stdout=out)
    assert f"Deleted: 1 recording(s) [{first.pk}]" in out.getvalue()
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "workers.recordings.cleanup_unclaimed_recordings" in scheduled


def _cast() -> object:
    from apps.recordings.tests.factories import upload

    return upload()
