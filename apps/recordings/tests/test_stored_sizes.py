"""A recording's stored sizes cover every file it has: the original, and for a video its
playable copy and poster (the disk quotas add them up without reading the disk)."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.core.files.base import ContentFile

from apps.recordings.models import Recording
from apps.recordings.tests.factories import VideoRecordingFactory

pytestmark = pytest.mark.django_db

MIGRATION = importlib.import_module(
    "apps.recordings.migrations.0003_recording_playable_and_poster_sizes"
)


def made_video(**fields: Any) -> Recording:
    recording: Recording = VideoRecordingFactory(**fields)  # type: ignore[assignment]
    return recording


def test_stored_bytes_add_up_every_file_of_each_recording() -> None:
    made_video(playable_size=300, poster_size=40)
    made_video()
    one = Recording.objects.first()
    assert one is not None and one.stored_bytes == one.size + one.playable_size + one.poster_size
    assert Recording.objects.all().stored_bytes() == 2048 + 300 + 40 + 2048
    assert Recording.objects.none().stored_bytes() == 0


def test_the_migration_measures_the_copies_and_posters_made_before_it(media_root: Path) -> None:
    both = made_video(
        playable_file=ContentFile(b"\0" * 300, name="recordings/video/a.playable.mp4"),
        poster=ContentFile(b"\0" * 40, name="recordings/video/a.poster.jpg"),
    )
    gone = made_video(poster=ContentFile(b"\0" * 40, name="recordings/video/b.poster.jpg"))
    (media_root / gone.poster.name).unlink()  # a file that is not there takes no room
    untouched = made_video()

    MIGRATION.measure_made_files(apps, None)

    sizes = dict(Recording.objects.values_list("pk", "playable_size"))
    posters = dict(Recording.objects.values_list("pk", "poster_size"))
    assert (sizes[both.pk], posters[both.pk]) == (300, 40)
    assert (sizes[gone.pk], posters[gone.pk]) == (0, 0)
    assert (sizes[untouched.pk], posters[untouched.pk]) == (0, 0)
