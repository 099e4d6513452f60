"""Notifications through apprise: events in, at most one message per window for each kind of event.

An event that a target wants becomes a message for that target keyed by the event
type and its subject ("stream_job.failed" about "stream_job:5"). The first one is
sent at once. Events with the same key that come while a message of that key is
still waiting join it (its count grows), and a new message of a key is never sent
sooner than one window after the previous one: a job that fails a hundred times in
five minutes sends one message at once and one summary ("99 more") a window later.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apps.integrations import conf, mail
from apps.integrations.apprise_http import checked_connections
from apps.integrations.models import MessageState, NotificationMessage, NotificationTarget
from castcore.addresses import address_policy
from castcore.outbox.models import LEVEL_ORDER, OutboxEvent
from castcore.secrets import remember
from workers.ffmpeg.addresses import refused_address

logger = logging.getLogger("castcore.notifications")

BODY_PAYLOAD_CHARS = 1500


def messages_for_event(event: OutboxEvent) -> list[tuple[int, float]]:
    """Queue `event` for every target that wants it; (message id, seconds until due) of each."""
    queued = []
    for target in NotificationTarget.objects.filter(active=True):
        if not target.wants(event.event_type):
            continue
        if LEVEL_ORDER.get(event.level, 0) < LEVEL_ORDER.get(target.min_level, 0):  # type: ignore[call-overload]
            continue
        queued.append(_enqueue(target.pk, event))
    return [item for item in queued if item is not None]


def _enqueue(target_id: int, event: OutboxEvent) -> tuple[int, float] | None:
    now = timezone.now()
    window = timedelta(seconds=conf.NOTIFICATION_WINDOW_SECONDS)
    key = f"{event.event_type}:{event.subject}"[:200]
    with transaction.atomic():
        # One target at a time: two events of one key never both open a window.
        NotificationTarget.objects.select_for_update().filter(pk=target_id).first()
        latest = (
            NotificationMessage.objects.filter(target_id=target_id, key=key)
            .order_by("-send_at", "-id")
            .first()
        )
        if latest is not None and latest.state == MessageState.PENDING:
            title, body = _text(event, latest.count + 1)
            # Only while still pending: a sender that claimed it meanwhile sends what it read.
            joined = NotificationMessage.objects.filter(
                pk=latest.pk, state=MessageState.PENDING
            ).update(count=latest.count + 1, title=title, body=body)
            if joined:
                return None  # already queued: it goes out at its time, with this one in it
        send_at = now
        if latest is not None:
            send_at = max(now, latest.send_at + window)
        title, body = _text(event, 1)
        message = NotificationMessage.objects.create(
            target_id=target_id,
            key=key,
            event_type=event.event_type,
            level=event.level,
            title=title,
            body=body,
            send_at=send_at,
        )
    return message.pk, (send_at - now).total_seconds()


def _text(event: OutboxEvent, count: int) -> tuple[str, str]:
    about = f" ({event.subject})" if event.subject else ""
    title = f"CastCore: {event.event_type}{about}"
    payload = json.dumps(event.payload, sort_keys=True)[:BODY_PAYLOAD_CHARS]
    if count > 1:
        window = int(conf.NOTIFICATION_WINDOW_SECONDS)
        title = f"{title} ×{count}"
        body = f"{count} × {event.event_type} within {window} s. Latest: {payload}"
    else:
        body = f"{event.event_type}: {payload}"
    return title[:250], body


@dataclass(frozen=True)
class SendResult:
    ok: bool
    error_code: str = ""


_TOKENISH = re.compile(r"[^/:@?&=#.]{12,}")


def _remember_parts(url: str) -> None:
    """Mask in logs the whole URL and every long token in it (apprise logs parts of URLs)."""
    remember(url)
    for token in _TOKENISH.findall(url.partition("://")[2]):
        remember(token)


def target_url_valid(url: str) -> bool:
    """Whether `url` can be a target: an apprise URL, or `mailto:` addresses (mail.py)."""
    if mail.uses_settings(url):
        return mail.recipients(url) is not None
    import apprise

    return apprise.Apprise.instantiate(url) is not None


def apprise_send(url: str, *, title: str, body: str, level: str) -> SendResult:
    """Send one message to one apprise URL under the address policy.

    apprise's HTTP connections are checked where they are made, on the address they
    connect to and on every redirect (apprise_http.py); the URL's host is also checked
    by name before, which is all there is for the plugins that speak another protocol
    (SMTP, XMPP…).
    """
    import apprise

    # The operator's SMTP server (the EMAIL_* settings) is not a target a user chose.
    operators = mail.uses_settings(url)
    if operators:
        url = mail.apprise_url(url) or ""
    _remember_parts(url)
    instance: Any = apprise.Apprise.instantiate(url) if url else None
    if instance is None:
        return SendResult(False, "notification.url_invalid")
    policy = address_policy()
    host = getattr(instance, "host", None)
    if not operators and isinstance(host, str) and host and refused_address(host, policy):
        logger.warning("Notification refused: its host %s is not allowed", host)
        return SendResult(False, "notification.address_not_allowed")
    kind = {
        "info": apprise.NotifyType.INFO,
        "warning": apprise.NotifyType.WARNING,
        "error": apprise.NotifyType.FAILURE,
    }.get(level, apprise.NotifyType.INFO)
    sender = apprise.Apprise()
    sender.add(instance)
    with checked_connections(policy, max_response_bytes=conf.WEBHOOK_MAX_RESPONSE_BYTES) as checked:
        try:
            ok = bool(
                sender.notify(
                    title=title,
                    body=body,
                    notify_type=kind,
                    timeout=conf.NOTIFICATION_TIMEOUT_SECONDS,
                )
            )
        except Exception:
            logger.warning("apprise raised while sending", exc_info=True)
            ok = False
    if checked.cut:
        logger.info("Notification answer read up to the cap only: %s", ", ".join(checked.cut))
    if checked.refused:
        logger.warning("Notification refused: %s", "; ".join(checked.refused))
        return SendResult(False, "notification.address_not_allowed")
    return SendResult(ok, "" if ok else "notification.send_failed")


def claim_seconds() -> float:
    """How long a send's claim lasts: past anything the send itself can take."""
    return 2 * conf.NOTIFICATION_TIMEOUT_SECONDS + conf.WEBHOOK_CLAIM_MARGIN_SECONDS


def message_send(*, message_id: int) -> float | None:
    """Send a due message (claimed first); the seconds until a retry, or None when done.

    The claim is a lease (`claimed_until`), measured from the claim, not from when the
    message was due: a message sent late is as much ours while it is sent as one on time.
    """
    now = timezone.now()
    claimed = NotificationMessage.objects.filter(
        pk=message_id, state=MessageState.PENDING, send_at__lte=now
    ).update(state=MessageState.SENDING, claimed_until=now + timedelta(seconds=claim_seconds()))
    if claimed != 1:
        return None
    mine = NotificationMessage.objects.filter(pk=message_id, state=MessageState.SENDING)
    message = NotificationMessage.objects.select_related("target").get(pk=message_id)
    # A window is counted from when the previous message of the key went out, which can
    # be later than it was due (a busy worker): never two of one key inside a window.
    window = timedelta(seconds=conf.NOTIFICATION_WINDOW_SECONDS)
    previous = (
        NotificationMessage.objects.filter(
            target_id=message.target_id, key=message.key, state=MessageState.SENT
        )
        .order_by("-sent_at")
        .values_list("sent_at", flat=True)
        .first()
    )
    if previous is not None and previous + window > now:
        mine.update(state=MessageState.PENDING, send_at=previous + window, claimed_until=None)
        return (previous + window - now).total_seconds()
    result = apprise_send(
        message.target.url, title=message.title, body=message.body, level=message.level
    )
    attempts = message.attempts + 1
    if result.ok:
        mine.update(
            state=MessageState.SENT,
            attempts=attempts,
            sent_at=timezone.now(),
            error_code="",
            claimed_until=None,
        )
        return None
    final = attempts >= conf.NOTIFICATION_MAX_ATTEMPTS or result.error_code in (
        "notification.url_invalid",
        "notification.address_not_allowed",
    )
    retry_in = min(10.0 * 2 ** (attempts - 1), 600.0)
    mine.update(
        state=MessageState.FAILED if final else MessageState.PENDING,
        attempts=attempts,
        error_code=result.error_code,
        send_at=timezone.now() + timedelta(seconds=retry_in),
        claimed_until=None,
    )
    logger.warning(
        "Notification %s to target %s failed (%s), attempt %s",
        message_id,
        message.target_id,
        result.error_code,
        attempts,
    )
    return None if final else retry_in


def due_messages(*, grace_seconds: float, limit: int = 500) -> list[int]:
    now = timezone.now()
    # A worker that died mid-send left its claim; once it ran out the message is sent again.
    NotificationMessage.objects.filter(
        Q(claimed_until__lt=now) | Q(claimed_until__isnull=True), state=MessageState.SENDING
    ).update(state=MessageState.PENDING, claimed_until=None)
    return list(
        NotificationMessage.objects.filter(
            state=MessageState.PENDING, send_at__lte=now - timedelta(seconds=grace_seconds)
        )
        .order_by("send_at")
        .values_list("pk", flat=True)[:limit]
    )


def kick_message(message_id: int, countdown: float = 0.0) -> None:
    from workers.events import send_notification

    try:
        send_notification.apply_async((message_id,), countdown=countdown or None)
    except Exception:
        logger.warning("Could not queue notification %s; the sweep will", message_id, exc_info=True)


def target_test(*, target: NotificationTarget) -> SendResult:
    """Send a test message to `target` now and say how it went."""
    return apprise_send(
        target.url,
        title="CastCore: test notification",
        body=f"This is a test of the notification target {target.name!r}.",
        level="info",
    )
