from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction

from castcore.events import emit
from castcore.outbox.models import OutboxEvent

pytestmark = pytest.mark.django_db


def test_an_event_is_written_with_the_change_and_handed_over_after_commit(
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        emit("stream_job.failed", {"stream_job_id": 5}, subject="stream_job:5")
    event = OutboxEvent.objects.get()
    assert (event.event_type, event.level, event.subject) == (
        "stream_job.failed",
        "error",
        "stream_job:5",
    )
    assert event.payload == {"stream_job_id": 5} and event.dispatched_at is None
    assert len(callbacks) == 1  # the hand-over to the delivery tasks


def test_a_rolled_back_change_leaves_no_event_and_hands_over_nothing(
    django_capture_on_commit_callbacks: Any,
) -> None:
    def change_that_fails() -> None:
        with transaction.atomic():
            emit("recording.ready", {"recording_id": 1})
            raise RuntimeError("the change fails")

    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(RuntimeError):
        change_that_fails()
    assert not OutboxEvent.objects.exists()
    assert callbacks == []


def test_an_unknown_event_type_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown event type"):
        emit("stream_job.exploded", {})
    assert not OutboxEvent.objects.exists()


def test_dates_in_a_payload_become_iso_strings() -> None:
    from django.utils import timezone

    now = timezone.now()
    emit("system.disk_low", {"at": now})
    stored = OutboxEvent.objects.get().payload["at"]
    assert stored.startswith(now.strftime("%Y-%m-%dT%H:%M:%S.")) and stored.endswith("Z")


def test_the_readme_documents_every_event_type_and_no_other() -> None:
    import re
    from pathlib import Path

    from django.conf import settings

    from castcore.events import EVENT_TYPES

    readme = (Path(settings.BASE_DIR) / "README.md").read_text()
    section = readme.split("## Domain events, webhooks and notifications", 1)[1].split("\n## ")[0]
    documented: dict[str, str] = {}
    for row in re.findall(
        r"^\| (`[a-z_]+\.[a-z_]+`(?: / `[a-z_]+\.[a-z_]+`)*) \| ([a-z]+)", section, re.M
    ):
        for name in re.findall(r"`([^`]+)`", row[0]):
            documented[name] = row[1]
    assert documented == EVENT_TYPES  # every type, with its default level
