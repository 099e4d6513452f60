"""Events through a real Celery worker (a separate process) to real HTTP receivers.

Needs PostgreSQL and Redis (skipped without). The retry waits are shortened through
the worker's environment (base 0.5 s, at most 2 s) so that a receiver that is down
for a minute sees dozens of attempts per event: the same path as a day of retries.
"""

from __future__ import annotations

import asyncio
import itertools
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.db import transaction
from kombu.simple import SimpleQueue

from apps.integrations.models import (
    NotificationMessage,
    NotificationTarget,
    Webhook,
    WebhookDelivery,
)
from apps.integrations.signing import new_secret
from apps.integrations.tests.receiver import Receiver
from castcore.celery import app
from castcore.events import emit, kick_outbox_many, outbox_kicks_deferred
from castcore.outbox.models import OutboxEvent
from castcore.tests.celery_workers import ffmpeg_worker_env

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

WORKER_ENV = {
    "CASTCORE_WEBHOOK_RETRY_BASE_SECONDS": "0.5",
    "CASTCORE_WEBHOOK_RETRY_MAX_SECONDS": "2",
    "CASTCORE_WEBHOOK_CONNECT_TIMEOUT_SECONDS": "1",
    "CASTCORE_NOTIFICATION_WINDOW_SECONDS": "4",
}


@pytest.fixture
def worker(tmp_path: Path, settings: Any) -> Iterator[subprocess.Popen[bytes]]:
    env = {**ffmpeg_worker_env(settings), **WORKER_ENV}
    with app.connection_for_write() as conn:
        SimpleQueue(conn, "default").clear()  # other tests' leftovers
    log = (tmp_path / "worker.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "castcore", "worker", "-Q", "default",
         "-P", "threads", "-c", "4", "--without-mingle", "--without-gossip", "-l", "INFO",
         "-n", f"events-{uuid.uuid4().hex[:8]}@%h"],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=settings.BASE_DIR,
    )  # fmt: skip
    yield process
    process.kill()
    process.wait(10)
    log.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver(secret=new_secret()).start()
    yield receiver
    receiver.stop()


def _committed(event_type: str, n: int) -> None:
    with transaction.atomic():
        emit(event_type, {"n": n}, subject=f"test:{n}")


def _rolled_back(event_type: str) -> None:
    with transaction.atomic():
        emit(event_type, {"n": "rolled back"})
        raise RuntimeError("the change fails")


def _until(check: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False


def test_every_committed_event_arrives_once_per_id_even_after_the_receiver_was_down(
    worker: Any, receiver: Receiver, tmp_path: Path
) -> None:
    Webhook.objects.create(name="r", url=receiver.url + "/in", secret=receiver.secret, events=["*"])
    for n in range(5):
        _committed("recording.ready", n)
    with pytest.raises(RuntimeError):
        _rolled_back("recording.ready")
    assert receiver.wait_for(lambda got: len(got) >= 5, timeout=60), (
        tmp_path / "worker.log"
    ).read_text()

    receiver.stop()
    down_at = time.monotonic()
    for n in range(5, 15):  # events keep coming while it is down, over most of the minute
        _committed("recording.ready", n)
        with pytest.raises(RuntimeError):
            _rolled_back("recording.ready")
        time.sleep(5)
    # Down for a whole minute: every delivery of these ten fails, again and again.
    time.sleep(max(0.0, 60 - (time.monotonic() - down_at)))
    assert receiver.received[5:] == []
    retried = WebhookDelivery.objects.filter(attempts__gt=1).count()
    receiver.start()  # back, on the same port
    assert receiver.wait_for(lambda got: len(got) >= 15, timeout=60)
    time.sleep(3)  # anything sent twice would have come by now

    ids = Counter(got.headers["webhook-id"] for got in receiver.received)
    committed = {event.message_id for event in OutboxEvent.objects.all()}
    assert set(ids) == committed and len(committed) == 15
    assert set(ids.values()) == {1}  # exactly once per id
    assert all(got.signature_ok for got in receiver.received)
    assert sorted(got.json()["data"]["n"] for got in receiver.received) == list(range(15))
    assert retried == 10  # each of the ten was tried more than once while the receiver was down
    assert set(WebhookDelivery.objects.values_list("state", flat=True)) == {"succeeded"}


def test_a_redirect_to_a_link_local_address_reaches_nothing_and_says_why(
    worker: Any, receiver: Receiver, tmp_path: Path
) -> None:
    receiver.redirect_to = "http://169.254.169.254/latest/meta-data/iam/"
    Webhook.objects.create(name="r", url=receiver.url, secret=receiver.secret, events=["*"])
    _committed("stream_job.failed", 1)
    assert _until(lambda: WebhookDelivery.objects.filter(state="failed").exists(), timeout=60), (
        tmp_path / "worker.log"
    ).read_text()
    delivery = WebhookDelivery.objects.get()
    assert delivery.error_code == "webhook.address_not_allowed" and delivery.attempts == 1
    assert "169.254.169.254" in delivery.error_detail
    log = (tmp_path / "worker.log").read_text()
    assert "webhook.address_not_allowed" in log and receiver.secret not in log


def test_a_flapping_job_sends_one_notification_per_window(
    worker: Any, receiver: Receiver, tmp_path: Path
) -> None:
    NotificationTarget.objects.create(
        name="ops", url=f"json://127.0.0.1:{receiver.port}/n", events=["stream_job.failed"],
        min_level="error",
    )  # fmt: skip
    for _ in range(40):  # the job fails forty times, as fast as it can
        with transaction.atomic():
            emit("stream_job.failed", {"stream_job_id": 9}, subject="stream_job:9")

    def all_sent() -> bool:
        sent = NotificationMessage.objects.filter(state="sent")
        return sum(m.count for m in sent) == 40

    # Events that come while a message waits join it; one that comes after it went out
    # waits for the end of the window (4 s) counted from when it went out.
    assert _until(all_sent, timeout=90), (tmp_path / "worker.log").read_text()
    messages = list(NotificationMessage.objects.order_by("sent_at"))
    assert {m.state for m in messages} == {"sent"}
    # One per window, plus the first at once, over the time the events came in.
    seen = [e.dispatched_at for e in OutboxEvent.objects.all() if e.dispatched_at is not None]
    spread_s = (max(seen) - min(seen)).total_seconds()
    assert len(messages) <= 2 + spread_s // 4
    assert [got.json()["title"] for got in receiver.received] == [m.title for m in messages]
    sent = [m.sent_at for m in messages if m.sent_at is not None]
    assert all((b - a).total_seconds() >= 4 for a, b in itertools.pairwise(sent))


def test_events_handed_over_together_each_arrive_once(
    worker: Any, receiver: Receiver, tmp_path: Path
) -> None:
    # As the chat's writer does: the hand-overs held back at commit, then one task message
    # (workers.events.dispatch_events) for them all. No beat runs here: no sweep either.
    Webhook.objects.create(name="r", url=receiver.url + "/in", secret=receiver.secret, events=["*"])
    with outbox_kicks_deferred() as kicks:
        for n in range(6):
            _committed("chat.message", n)
    assert len(kicks) == 6
    kick_outbox_many(kicks)
    assert receiver.wait_for(lambda got: len(got) >= 6, timeout=60), (
        tmp_path / "worker.log"
    ).read_text()
    time.sleep(2)  # anything sent twice would have come by now
    assert sorted(got.json()["data"]["n"] for got in receiver.received) == list(range(6))
    assert not OutboxEvent.objects.filter(dispatched_at__isnull=True).exists()


@pytest.mark.asyncio
async def test_chat_messages_reach_a_webhook_through_the_writers_gathered_hand_over(
    worker: Any, receiver: Receiver, tmp_path: Path
) -> None:
    # The chat's writer holds its messages' hand-overs back and queues them together a
    # moment later (apps.chat.writer.KICK_GATHER_SECONDS); no beat runs here, so what
    # arrives came through that hand-over, not the sweep.
    from apps.chat.tests.factories import LiveStreamFactory
    from apps.chat.tests.helpers import ChatClient, register

    await sync_to_async(Webhook.objects.create)(
        name="r", url=receiver.url + "/in", secret=receiver.secret, events=["chat.message"]
    )
    stream = await sync_to_async(LiveStreamFactory)()
    client = await ChatClient(stream, chat_token=await register("hooked")).connect()
    try:
        for n in range(3):
            await client.say(f"hello {n}")
            await client.receive("CHAT")
        deadline = time.monotonic() + 60
        while len(receiver.received) < 3 and time.monotonic() < deadline:
            await asyncio.sleep(0.2)  # the writer's hand-over runs on this loop
    finally:
        await client.disconnect()
    assert sorted(got.json()["data"]["body"] for got in receiver.received) == [
        "hello 0",
        "hello 1",
        "hello 2",
    ], (tmp_path / "worker.log").read_text()
