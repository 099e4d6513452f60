"""A notification being sent is one worker's until its lease ends: never sent twice."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.integrations import conf
from apps.integrations.models import NotificationMessage, NotificationTarget
from apps.integrations.notify import claim_seconds, due_messages, message_send
from apps.integrations.outbox import outbox_dispatch
from apps.integrations.tests.receiver import Receiver
from castcore.events import emit
from castcore.outbox.models import OutboxEvent

# The sends run in threads of their own, each with its own connection.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver().start()
    yield receiver
    receiver.stop()


def _queued_message(receiver: Receiver) -> int:
    NotificationTarget.objects.create(
        name="ops", url=f"json://127.0.0.1:{receiver.port}/n", events=["*"], min_level="info"
    )
    emit("stream_job.failed", {"stream_job_id": 7}, subject="stream_job:7")
    ((message_id, _delay),) = outbox_dispatch(event_id=OutboxEvent.objects.get().pk).messages
    return message_id


def _until(check: object, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def test_a_late_message_being_sent_is_not_taken_by_the_sweep_and_a_second_worker(
    receiver: Receiver,
) -> None:
    receiver.delay = 3.0  # a slow target: the first worker is mid-send for a while
    message_id = _queued_message(receiver)
    # Due an hour ago: its worker was busy. Lateness must not shorten the claim.
    NotificationMessage.objects.filter(pk=message_id).update(
        send_at=timezone.now() - timedelta(hours=1)
    )
    first = threading.Thread(target=message_send, kwargs={"message_id": message_id})
    first.start()
    assert _until(lambda: len(receiver.received) == 1)
    # A second worker, woken by the sweep meanwhile, races the first one.
    second = [message_send(message_id=due) for due in due_messages(grace_seconds=5)]
    second.append(message_send(message_id=message_id))
    first.join(60)
    assert second == [None]  # nothing to do: the message is the first worker's
    message = NotificationMessage.objects.get()
    assert (message.state, message.attempts, message.claimed_until) == ("sent", 1, None)
    time.sleep(1)  # a second send, had there been one, would have arrived by now
    assert len(receiver.received) == 1


def test_workers_racing_for_one_due_message_send_it_once(receiver: Receiver) -> None:
    receiver.delay = 0.5
    message_id = _queued_message(receiver)
    start = threading.Barrier(6)

    def worker() -> None:
        start.wait()
        message_send(message_id=message_id)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert NotificationMessage.objects.get().state == "sent"
    time.sleep(1)
    assert len(receiver.received) == 1


def test_a_claim_whose_worker_died_is_let_go_once_its_lease_ends(receiver: Receiver) -> None:
    message_id = _queued_message(receiver)
    assert claim_seconds() > conf.NOTIFICATION_TIMEOUT_SECONDS
    now = timezone.now()
    NotificationMessage.objects.filter(pk=message_id).update(
        state="sending", send_at=now - timedelta(hours=1), claimed_until=now + timedelta(minutes=1)
    )
    assert due_messages(grace_seconds=0) == []  # its lease still runs
    NotificationMessage.objects.filter(pk=message_id).update(
        claimed_until=now - timedelta(seconds=1)
    )
    assert due_messages(grace_seconds=0) == [message_id]  # its worker is gone
    assert message_send(message_id=message_id) is None
    assert len(receiver.received) == 1
