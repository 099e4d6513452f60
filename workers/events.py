"""Domain event delivery (queue `default`): the outbox, webhooks and notifications.

The outbox rows, not these messages, are the record: a task lost with its worker
is found again by `sweep_outbox` (beat), and every task claims its row before
acting, so a task delivered twice does its work once. Retries are scheduled here
(countdown) for waits of a few minutes; longer ones are left to the sweep, since
a broker holds a far-off countdown in a worker's memory.
"""

from __future__ import annotations

import logging

from celery import shared_task

logger = logging.getLogger(__name__)

#: Longest wait scheduled as a countdown; the sweep takes later attempts.
COUNTDOWN_MAX_SECONDS = 300.0


@shared_task(name="workers.events.dispatch_event", ignore_result=True)
def dispatch_event(event_id: int) -> None:
    """Turn an outbox event into deliveries and messages, then start them."""
    from apps.integrations.notify import kick_message
    from apps.integrations.outbox import outbox_dispatch

    dispatched = outbox_dispatch(event_id=event_id)
    for delivery_id in dispatched.deliveries:
        deliver_webhook.delay(delivery_id)
    for message_id, delay in dispatched.messages:
        if delay <= COUNTDOWN_MAX_SECONDS:
            kick_message(message_id, countdown=delay)
    for job_id in dispatched.metadata_jobs:
        push_platform_metadata.delay(job_id)


@shared_task(name="workers.events.dispatch_events", ignore_result=True)
def dispatch_events(event_ids: list[int]) -> None:
    """dispatch_event for each of several events handed over together (a busy chat's
    messages: castcore.events.kick_outbox_many). One that fails is left to the sweep; the
    others go on."""
    for event_id in event_ids:
        try:
            dispatch_event(event_id)
        except Exception:
            logger.warning("Could not dispatch event %s; the sweep will", event_id, exc_info=True)


@shared_task(name="workers.events.deliver_webhook", ignore_result=True)
def deliver_webhook(delivery_id: int) -> None:
    """One attempt of one delivery; the next one is scheduled from its outcome."""
    from apps.integrations.webhooks import delivery_attempt

    outcome = delivery_attempt(delivery_id=delivery_id)
    retry_in = outcome.retry_in if outcome is not None else None
    if retry_in is not None and retry_in <= COUNTDOWN_MAX_SECONDS:
        deliver_webhook.apply_async((delivery_id,), countdown=retry_in)


@shared_task(name="workers.events.send_notification", ignore_result=True)
def send_notification(message_id: int) -> None:
    """Send one due notification; a failure is retried from the message row's own count."""
    from apps.integrations.notify import message_send

    retry_in = message_send(message_id=message_id)
    if retry_in is not None and retry_in <= COUNTDOWN_MAX_SECONDS:
        send_notification.apply_async((message_id,), countdown=retry_in)


@shared_task(name="workers.events.sweep_outbox", ignore_result=True)
def sweep_outbox() -> None:
    """Hand over what no task carries: undispatched events, due deliveries and messages."""
    from apps.integrations.notify import due_messages
    from apps.integrations.outbox import outbox_prune, undispatched_events
    from apps.integrations.webhooks import due_deliveries

    for event_id in undispatched_events():
        dispatch_event.delay(event_id)
    for delivery_id in due_deliveries(grace_seconds=5.0):
        deliver_webhook.delay(delivery_id)
    for message_id in due_messages(grace_seconds=5.0):
        send_notification.delay(message_id)
    outbox_prune()


@shared_task(name="workers.events.push_platform_metadata", ignore_result=True)
def push_platform_metadata(job_id: int) -> None:
    """Send a job's resolved metadata to its linked platforms, once, after it started.

    No retry: the outcome is a hint on the job (a failed push never fails the stream),
    and a retry minutes later could overwrite a title the operator fixed by hand meanwhile.
    """
    from apps.integrations.platforms.push import platform_metadata_push

    platform_metadata_push(job_id=job_id)
