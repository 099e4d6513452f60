from __future__ import annotations

import uuid

from django.db import models


class EventLevel(models.TextChoices):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


#: Levels in order, for "at least this level" subscriptions.
LEVEL_ORDER = {EventLevel.INFO: 0, EventLevel.WARNING: 1, EventLevel.ERROR: 2}


class OutboxEvent(models.Model):
    """A domain event, committed with the change it announces; delivered after commit."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    event_type = models.CharField(max_length=64, db_index=True)
    level = models.CharField(max_length=8, choices=EventLevel.choices, default=EventLevel.INFO)
    # What the event is about ("stream_job:5"): bursts of one event type about one
    # subject are merged into one notification.
    subject = models.CharField(max_length=128, blank=True)
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # Set once the event has been turned into deliveries; the sweep picks up rows
    # committed whose on-commit dispatch never ran (process died in between).
    dispatched_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["created_at"],
                condition=models.Q(dispatched_at__isnull=True),
                name="outbox_undispatched",
            )
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.uuid}"

    @property
    def message_id(self) -> str:
        """The Standard Webhooks `webhook-id`: the same for every attempt of this event."""
        return f"msg_{self.uuid.hex}"
