"""Webhook deliveries: one row per event and webhook, attempted under a claim, retried with backoff.

A delivery is attempted only by the worker that moved it from `pending` to
`sending` (a conditional update that must change exactly one row), so a sweep and
a scheduled retry that wake together never send it twice. Each attempt signs the
body afresh (Standard Webhooks: the timestamp is that of the attempt, the id is
the event's), records its outcome on the row, and either finishes the delivery or
sets its next attempt: base·2^(n-1) seconds capped at a maximum, with jitter (a
random point between half and all of it, so that receivers coming back are not
hit by every sender at once), for as long as the retry window after the event.
"""

from __future__ import annotations

import json
import logging
import random
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.utils import timezone

from apps.accounts.audit import audit_record, audit_shown, diff_changes, snapshot
from apps.integrations import conf
from apps.integrations.http import Limits, PostResult, post_checked, url_for_log
from apps.integrations.models import (
    DeliveryState,
    Webhook,
    WebhookDelivery,
    WebhookFormat,
)
from apps.integrations.signing import signed_headers
from castcore.addresses import address_policy
from castcore.api.errors import Conflict
from castcore.events import emit
from castcore.outbox.models import OutboxEvent

logger = logging.getLogger("castcore.webhooks")

USER_AGENT = "CastCore-Webhooks/1"
ATTEMPT_LOG_KEEP = 30


def event_body(event: OutboxEvent, webhook_format: str = WebhookFormat.CASTCORE) -> bytes:
    """The JSON body of every attempt of `event` (Standard Webhooks: type, timestamp, data),
    or in Owncast's shape ({type, eventData}) for an Owncast-format webhook."""
    document: dict[str, Any]
    if webhook_format == WebhookFormat.OWNCAST:
        from apps.owncast.webhooks import owncast_document

        document = owncast_document(event)
    else:
        document = {
            "type": event.event_type,
            "timestamp": event.created_at.isoformat().replace("+00:00", "Z"),
            "data": event.payload,
        }
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()


def backoff_seconds(attempts: int) -> float:
    """How long to wait after the `attempts`-th failed attempt: exponential, capped, jittered."""
    ceiling = min(
        conf.WEBHOOK_RETRY_BASE_SECONDS * 2 ** (attempts - 1), conf.WEBHOOK_RETRY_MAX_SECONDS
    )
    return random.uniform(ceiling / 2, ceiling)  # noqa: S311 (jitter, not a secret)


def limits() -> Limits:
    return Limits(
        connect_timeout=conf.WEBHOOK_CONNECT_TIMEOUT_SECONDS,
        read_timeout=conf.WEBHOOK_READ_TIMEOUT_SECONDS,
        max_response_bytes=conf.WEBHOOK_MAX_RESPONSE_BYTES,
        max_redirects=conf.WEBHOOK_MAX_REDIRECTS,
        total_timeout=conf.WEBHOOK_TIMEOUT_SECONDS,
    )


def deliveries_create(event: OutboxEvent) -> None:
    """A pending delivery of `event` to every active webhook that wants it (idempotent)."""
    now = timezone.now()
    wanted = [
        w
        for w in Webhook.objects.filter(active=True)
        if w.wants(event.event_type, event.subject, event.payload)
    ]
    WebhookDelivery.objects.bulk_create(
        [WebhookDelivery(webhook=w, event=event, next_attempt_at=now) for w in wanted],
        ignore_conflicts=True,
    )


@dataclass(frozen=True)
class AttemptOutcome:
    """What an attempt left to do: nothing, or another attempt in `retry_in` seconds."""

    state: str
    retry_in: float | None = None


def claim_seconds() -> float:
    """How long an attempt's claim lasts: past anything the attempt itself can take."""
    return 2 * conf.WEBHOOK_TIMEOUT_SECONDS + conf.WEBHOOK_CLAIM_MARGIN_SECONDS


def _claim(delivery_id: int) -> bool:
    now = timezone.now()
    return (
        WebhookDelivery.objects.filter(
            pk=delivery_id,
            state=DeliveryState.PENDING,
            next_attempt_at__lte=now,
            webhook__active=True,
        ).update(
            state=DeliveryState.SENDING,
            claimed_until=now + timedelta(seconds=claim_seconds()),
        )
        == 1
    )


def delivery_attempt(*, delivery_id: int) -> AttemptOutcome | None:
    """Attempt a due delivery; None when it was not ours to attempt (not due, taken, done)."""
    if not _claim(delivery_id):
        return None
    delivery = WebhookDelivery.objects.select_related("webhook", "event").get(pk=delivery_id)
    webhook, event = delivery.webhook, delivery.event
    body = event_body(event, webhook.format)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        **signed_headers(webhook.secret, event.message_id, int(time.time()), body),
    }
    result = post_checked(webhook.url, body, headers, policy=address_policy(), limits=limits())
    return _record(delivery, result)


def _record(delivery: WebhookDelivery, result: PostResult) -> AttemptOutcome:
    now = timezone.now()
    attempts = delivery.attempts + 1
    retry_in: float | None = None
    if result.ok:
        state = DeliveryState.SUCCEEDED
    else:
        retry_in = backoff_seconds(attempts)
        deadline = delivery.event.created_at + timedelta(seconds=conf.WEBHOOK_RETRY_WINDOW_SECONDS)
        given_up = result.refused or now + timedelta(seconds=retry_in) > deadline
        state = DeliveryState.FAILED if given_up else DeliveryState.PENDING
        if given_up:
            retry_in = None
    entry = {
        "at": now.isoformat(),
        "status_code": result.status_code,
        "duration_ms": result.duration_ms,
        "error_code": result.error_code,
    }
    with transaction.atomic():  # one commit for the outcome and the webhook's counters
        _save_outcome(delivery, result, state, attempts, now, retry_in, entry)
    _log_outcome(delivery, result, attempts, retry_in)
    return AttemptOutcome(state=state, retry_in=retry_in)


def _save_outcome(
    delivery: WebhookDelivery,
    result: PostResult,
    state: str,
    attempts: int,
    now: Any,
    retry_in: float | None,
    entry: dict[str, Any],
) -> None:
    WebhookDelivery.objects.filter(pk=delivery.pk, state=DeliveryState.SENDING).update(
        state=state,
        attempts=attempts,
        last_attempt_at=now,
        claimed_until=None,
        next_attempt_at=now + timedelta(seconds=retry_in) if retry_in is not None else None,
        status_code=result.status_code,
        duration_ms=result.duration_ms,
        response_excerpt=result.excerpt,
        error_code=result.error_code or ("" if result.ok else "webhook.http_status"),
        error_detail=result.error_detail[:500],
        attempt_log=[*delivery.attempt_log, entry][-ATTEMPT_LOG_KEEP:],
    )
    if result.ok:
        # Written when it changes something, and last_success_at to the minute: one
        # write less per delivery to a healthy webhook.
        Webhook.objects.filter(pk=delivery.webhook_id).exclude(
            consecutive_failures=0,
            failing_since__isnull=True,
            last_success_at__gte=now - timedelta(seconds=60),
        ).update(consecutive_failures=0, failing_since=None, last_success_at=now)
    else:
        _count_failure(delivery.webhook_id, now)


def _log_outcome(
    delivery: WebhookDelivery, result: PostResult, attempts: int, retry_in: float | None
) -> None:
    where = url_for_log(delivery.webhook.url)
    if result.ok:
        logger.info(
            "Webhook %s: %s delivered to %s", delivery.webhook_id, delivery.event.message_id, where
        )
    else:
        logger.warning(
            "Webhook %s: %s to %s failed (%s%s), attempt %s, %s",
            delivery.webhook_id,
            delivery.event.message_id,
            where,
            result.error_code or f"HTTP {result.status_code}",
            f": {result.error_detail}" if result.error_detail else "",
            attempts,
            f"next in {retry_in:.1f} s" if retry_in is not None else "given up",
        )


def _count_failure(webhook_id: int, now: Any) -> None:
    """Count a failed attempt; switch the webhook off once it failed long and often enough."""
    Webhook.objects.filter(pk=webhook_id).update(
        consecutive_failures=F("consecutive_failures") + 1,
        failing_since=Coalesce(F("failing_since"), now),
    )
    webhook = Webhook.objects.get(pk=webhook_id)
    if not webhook.active or webhook.failing_since is None:
        return
    failing_for = (now - webhook.failing_since).total_seconds()
    if (
        webhook.consecutive_failures >= conf.WEBHOOK_DISABLE_AFTER_FAILURES
        and failing_for >= conf.WEBHOOK_DISABLE_AFTER_SECONDS
    ):
        with transaction.atomic():
            switched = Webhook.objects.filter(pk=webhook_id, active=True).update(
                active=False, disabled_reason="webhook.failing"
            )
            if switched:
                logger.warning(
                    "Webhook %s switched off after %s failures",
                    webhook_id,
                    webhook.consecutive_failures,
                )
                emit(
                    "webhook.disabled",
                    {
                        "webhook_id": webhook.pk,
                        "name": webhook.name,
                        "failures": webhook.consecutive_failures,
                        "failing_since": webhook.failing_since,
                    },
                    subject=f"webhook:{webhook.pk}",
                )


def delivery_redeliver(
    *, actor: Any, delivery: WebhookDelivery, request: HttpRequest | None = None
) -> WebhookDelivery:
    """Send a delivery again now, with the same webhook-id, whatever its outcome was.

    Refused (409) while its webhook is switched off, since no attempt is made for an
    inactive webhook: `webhook_delivery.webhook_inactive` (switch it on, then redeliver);
    and while an attempt is under way: `webhook_delivery.sending`.
    """
    if not Webhook.objects.filter(pk=delivery.webhook_id, active=True).exists():
        raise Conflict("webhook_delivery.webhook_inactive", {"webhook_id": delivery.webhook_id})
    reset = (
        WebhookDelivery.objects.filter(pk=delivery.pk)
        .exclude(state=DeliveryState.SENDING)
        .update(state=DeliveryState.PENDING, next_attempt_at=timezone.now())
    )
    if not reset:
        raise Conflict("webhook_delivery.sending", {"delivery_id": delivery.pk})
    audit_record(actor=actor, action="webhook_delivery.redeliver", target=delivery, request=request)
    transaction.on_commit(lambda: kick_delivery(delivery.pk))
    delivery.refresh_from_db()
    return delivery


def webhook_save_audited(
    serializer: Any, *, actor: Any, request: HttpRequest | None, action: str
) -> Webhook:
    """Save a validated WebhookSerializer and audit it, the URL as the API shows it
    (scheme, host and port) and the secret masked. Every writer of webhooks saves here."""
    fields = list(serializer.validated_data.keys())
    before = snapshot(serializer.instance, fields) if serializer.instance is not None else {}
    webhook: Webhook = serializer.save()
    changes = diff_changes(before, snapshot(webhook, fields), shown=audit_shown(Webhook))
    audit_record(actor=actor, action=action, target=webhook, changes=changes, request=request)
    return webhook


def webhook_reactivated(webhook: Webhook) -> None:
    """A webhook switched on again starts a fresh failure count; its pending deliveries go on."""
    Webhook.objects.filter(pk=webhook.pk).update(
        disabled_reason="", consecutive_failures=0, failing_since=None
    )


def kick_delivery(delivery_id: int, countdown: float = 0.0) -> None:
    from workers.events import deliver_webhook

    try:
        deliver_webhook.apply_async((delivery_id,), countdown=countdown or None)
    except Exception:
        logger.warning("Could not queue delivery %s; the sweep will", delivery_id, exc_info=True)


def due_deliveries(*, grace_seconds: float, limit: int = 500) -> list[int]:
    """Deliveries due for a while that no scheduled retry took (worker gone, retry too far off)."""
    now = timezone.now()
    # A claim whose worker died is let go first.
    WebhookDelivery.objects.filter(state=DeliveryState.SENDING, claimed_until__lt=now).update(
        state=DeliveryState.PENDING, claimed_until=None, next_attempt_at=now
    )
    return list(
        WebhookDelivery.objects.filter(
            state=DeliveryState.PENDING,
            next_attempt_at__lte=now - timedelta(seconds=grace_seconds),
            webhook__active=True,
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
