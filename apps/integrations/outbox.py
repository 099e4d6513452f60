"""From the outbox to deliveries: each committed event becomes webhook deliveries and messages."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from apps.integrations import conf, notify, webhooks
from apps.integrations.models import DeliveryState, WebhookDelivery
from castcore.outbox.models import OutboxEvent

logger = logging.getLogger("castcore.outbox")


@dataclass
class Dispatched:
    """What a dispatch queued: deliveries to attempt now, messages with their delay."""

    deliveries: list[int] = field(default_factory=list)
    messages: list[tuple[int, float]] = field(default_factory=list)
    # Jobs whose platform metadata is to be sent (they just started).
    metadata_jobs: list[int] = field(default_factory=list)


def outbox_dispatch(*, event_id: int) -> Dispatched:
    """Turn one event into deliveries and messages, once (the row is locked and marked)."""
    with transaction.atomic():
        event = (
            OutboxEvent.objects.select_for_update()
            .filter(pk=event_id, dispatched_at__isnull=True)
            .first()
        )
        if event is None:
            return Dispatched()  # already dispatched (a sweep and the on-commit kick met)
        webhooks.deliveries_create(event)
        messages = notify.messages_for_event(event)
        event.dispatched_at = timezone.now()
        event.save(update_fields=["dispatched_at"])
    deliveries = list(
        WebhookDelivery.objects.filter(event_id=event_id, state=DeliveryState.PENDING).values_list(
            "pk", flat=True
        )
    )
    # A restart after a failure ("recovered") keeps the title the first start sent.
    started = event.event_type == "stream_job.started"
    job_id = event.payload.get("stream_job_id") if started else None
    metadata_jobs = [job_id] if isinstance(job_id, int) else []
    return Dispatched(deliveries=deliveries, messages=messages, metadata_jobs=metadata_jobs)


def undispatched_events(*, limit: int = 500) -> list[int]:
    """Events committed a while ago whose on-commit hand-over never happened."""
    cutoff = timezone.now() - timedelta(seconds=conf.OUTBOX_SWEEP_GRACE_SECONDS)
    return list(
        OutboxEvent.objects.filter(dispatched_at__isnull=True, created_at__lt=cutoff)
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )


def outbox_prune(*, limit: int = 1000) -> int:
    """Forget events older than OUTBOX_KEEP_DAYS whose deliveries are all settled (a batch)."""
    from apps.integrations.models import MessageState, NotificationMessage

    cutoff = timezone.now() - timedelta(days=conf.OUTBOX_KEEP_DAYS)
    open_deliveries = WebhookDelivery.objects.filter(
        state__in=(DeliveryState.PENDING, DeliveryState.SENDING)
    ).values("event_id")
    ids = list(
        OutboxEvent.objects.filter(dispatched_at__lt=cutoff)
        .exclude(pk__in=open_deliveries)
        .values_list("pk", flat=True)[:limit]
    )
    OutboxEvent.objects.filter(pk__in=ids).delete()
    NotificationMessage.objects.filter(
        created_at__lt=cutoff, state__in=(MessageState.SENT, MessageState.FAILED)
    ).delete()
    return len(ids)
