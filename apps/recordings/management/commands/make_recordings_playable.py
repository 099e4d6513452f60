"""manage.py make_recordings_playable: the worker's playable copy, for videos that have none."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from apps.recordings import selectors
from apps.recordings.services import recording_make_playable


class Command(BaseCommand):
    help = (
        "Make the browser-playable copy and poster of video recordings that have none"
        " (recordings saved before CastCore made them, or whose worker was lost)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--retry-failed",
            action="store_true",
            help="also try again those whose copy could not be made (playable_error set)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        ids = list(
            selectors.videos_without_playable_copy(retry_failed=options["retry_failed"])
            .order_by("id")
            .values_list("id", flat=True)
        )
        self.stdout.write(f"{len(ids)} video recording(s) to make playable")
        for number, recording_id in enumerate(ids, start=1):
            recording = recording_make_playable(recording_id=recording_id)
            if recording is None or not (recording.playable_file or recording.playable_error):
                outcome = "gone"  # deleted meanwhile
            else:
                outcome = recording.playable_error or "ok"
            self.stdout.write(f"[{number}/{len(ids)}] recording {recording_id}: {outcome}")
