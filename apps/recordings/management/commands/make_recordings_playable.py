"""manage.py make_recordings_playable: the worker's playable copy, for videos that have none."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from apps.accounts.commands import AuditedCommand
from apps.recordings import selectors
from apps.recordings.models import Recording
from apps.recordings.services import recordings_make_playable


class Command(AuditedCommand):
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

        def show(number: int, total: int, recording_id: int, recording: Recording | None) -> None:
            # None: deleted meanwhile (or its file replaced), so nothing was written.
            outcome = "gone" if recording is None else recording.playable_error or "ok"
            self.stdout.write(f"[{number}/{total}] recording {recording_id}: {outcome}")

        recordings_make_playable(ids=ids, on_each=show)
