"""One attempt at a time, against a real HTTP receiver on loopback (the service, no worker)."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.utils import timezone

from apps.integrations import conf
from apps.integrations.models import Webhook, WebhookDelivery
from apps.integrations.outbox import outbox_dispatch
from apps.integrations.signing import new_secret
from apps.integrations.tests.receiver import Receiver
from apps.integrations.webhooks import delivery_attempt
from castcore.events import emit
from castcore.outbox.models import OutboxEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver(secret=new_secret()).start()
    yield receiver
    receiver.stop()


def _webhook(url: str, secret: str, events: list[str] | None = None) -> Webhook:
    return Webhook.objects.create(name="hook", url=url, secret=secret, events=events or ["*"])


def _emit_and_dispatch(event_type: str = "stream_job.failed") -> list[int]:
    emit(event_type, {"stream_job_id": 1}, subject="stream_job:1")
    event = OutboxEvent.objects.latest("id")
    return outbox_dispatch(event_id=event.pk).deliveries


def test_a_delivery_is_signed_and_the_receiver_verifies_it(receiver: Receiver) -> None:
    hook = _webhook(receiver.url + "/hook?x=1", receiver.secret)
    (delivery_id,) = _emit_and_dispatch()
    outcome = delivery_attempt(delivery_id=delivery_id)
    assert outcome is not None and outcome.state == "succeeded"
    (got,) = receiver.received
    assert got.signature_ok is True and got.path == "/hook?x=1"
    event = OutboxEvent.objects.get()
    assert got.headers["webhook-id"] == event.message_id
    assert got.json() == {
        "type": "stream_job.failed",
        "timestamp": got.json()["timestamp"],
        "data": {"stream_job_id": 1},
    }
    delivery = WebhookDelivery.objects.get(pk=delivery_id)
    assert (delivery.status_code, delivery.attempts, delivery.webhook_id) == (200, 1, hook.pk)
    assert delivery.response_excerpt == '{"ok": true}' and delivery.duration_ms is not None


def test_a_webhook_gets_only_the_events_it_wants(receiver: Receiver) -> None:
    _webhook(receiver.url, receiver.secret, events=["recording.ready"])
    assert _emit_and_dispatch("stream_job.failed") == []
    assert len(_emit_and_dispatch("recording.ready")) == 1


def test_an_event_is_dispatched_once_even_when_asked_twice(receiver: Receiver) -> None:
    _webhook(receiver.url, receiver.secret)
    emit("stream_job.started", {})
    event = OutboxEvent.objects.get()
    assert len(outbox_dispatch(event_id=event.pk).deliveries) == 1
    assert outbox_dispatch(event_id=event.pk).deliveries == []
    assert WebhookDelivery.objects.count() == 1


def test_a_failed_attempt_is_retried_later_with_the_same_id(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(conf, "WEBHOOK_RETRY_BASE_SECONDS", 10.0)
    _webhook(receiver.url, receiver.secret)
    (delivery_id,) = _emit_and_dispatch()
    receiver.status = 503
    outcome = delivery_attempt(delivery_id=delivery_id)
    assert outcome is not None and outcome.state == "pending"
    assert outcome.retry_in is not None and 5.0 <= outcome.retry_in <= 10.0  # jittered
    delivery = WebhookDelivery.objects.get(pk=delivery_id)
    assert delivery.error_code == "webhook.http_status" and delivery.status_code == 503
    assert delivery.next_attempt_at is not None and delivery.next_attempt_at > timezone.now()
    # Not due yet: a second task that wakes now does nothing.
    assert delivery_attempt(delivery_id=delivery_id) is None
    WebhookDelivery.objects.filter(pk=delivery_id).update(next_attempt_at=timezone.now())
    receiver.status = 200
    assert delivery_attempt(delivery_id=delivery_id).state == "succeeded"  # type: ignore[union-attr]
    ids = {got.headers["webhook-id"] for got in receiver.received}
    assert len(receiver.received) == 2 and len(ids) == 1
    assert all(got.signature_ok for got in receiver.received)


def test_a_delivery_gives_up_after_the_retry_window(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(conf, "WEBHOOK_RETRY_WINDOW_SECONDS", 1.0)
    monkeypatch.setattr(conf, "WEBHOOK_RETRY_BASE_SECONDS", 30.0)
    _webhook(receiver.url, receiver.secret)
    (delivery_id,) = _emit_and_dispatch()
    receiver.status = 500
    outcome = delivery_attempt(delivery_id=delivery_id)
    assert outcome is not None and (outcome.state, outcome.retry_in) == ("failed", None)


def test_a_redirect_to_a_link_local_address_is_not_followed(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.redirect_to = "http://169.254.169.254/latest/meta-data/"
    _webhook(receiver.url, receiver.secret)
    (delivery_id,) = _emit_and_dispatch()
    with caplog.at_level(logging.WARNING, logger="castcore.webhooks"):
        outcome = delivery_attempt(delivery_id=delivery_id)
    assert outcome is not None and outcome.state == "failed"  # no retry: it would be refused again
    delivery = WebhookDelivery.objects.get(pk=delivery_id)
    assert delivery.error_code == "webhook.address_not_allowed"
    assert "169.254.169.254" in delivery.error_detail and "link_local" in delivery.error_detail
    assert "address_not_allowed" in caplog.text
    assert receiver.received == []  # the redirect itself is not recorded as a delivery


@pytest.mark.parametrize(
    "host",
    [
        "2852039166",  # a name the resolver turns into 169.254.169.254
        "[::ffff:169.254.169.254]",
        "metadata.google.internal",
    ],
)
def test_a_host_that_resolves_to_a_link_local_address_is_never_connected(
    host: str, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    # Saved directly: the API refuses such URLs when they are written (test_webhooks_api).
    _webhook(f"http://{host}:{receiver.port}/", receiver.secret)
    (delivery_id,) = _emit_and_dispatch()
    with caplog.at_level(logging.WARNING, logger="castcore.webhooks"):
        outcome = delivery_attempt(delivery_id=delivery_id)
    assert outcome is not None and outcome.state == "failed"
    assert WebhookDelivery.objects.get(pk=delivery_id).error_code == "webhook.address_not_allowed"
    # The reason is logged, not only stored: an operator reading the worker's log sees why.
    (record,) = [r for r in caplog.records if "address_not_allowed" in r.getMessage()]
    assert record.levelno == logging.WARNING and "link_local" in record.getMessage()
    assert receiver.received == []


def test_loopback_is_refused_when_private_targets_are_off(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    import castcore.addresses

    monkeypatch.setattr(castcore.addresses, "ALLOW_PRIVATE_TARGETS", False)
    _webhook(f"http://localhost:{receiver.port}/", receiver.secret)
    (delivery_id,) = _emit_and_dispatch()
    delivery_attempt(delivery_id=delivery_id)
    delivery = WebhookDelivery.objects.get(pk=delivery_id)
    assert (
        delivery.error_code == "webhook.address_not_allowed" and "(local)" in delivery.error_detail
    )
    assert receiver.received == []


def _serve_once(answer: Callable[[socket.socket], None]) -> socket.socket:
    """A listening socket on loopback whose first connection gets `answer` after its request."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def serve() -> None:
        conn, _ = server.accept()
        conn.recv(65536)
        answer(conn)
        conn.close()

    threading.Thread(target=serve, daemon=True).start()
    return server


def test_a_response_is_read_only_up_to_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    from apps.integrations.http import Limits, post_checked
    from workers.ffmpeg.addresses import DEFAULT_POLICY

    sent: list[int] = []

    def answer(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10000000\r\n\r\n")
        try:
            for _ in range(10000):
                sent.append(conn.send(b"x" * 1000))
        except OSError:
            pass  # the client closed after the cap

    server = _serve_once(answer)
    limits = Limits(connect_timeout=2, read_timeout=2, max_response_bytes=4096, max_redirects=0)
    result = post_checked(
        f"http://127.0.0.1:{server.getsockname()[1]}/",
        b"{}",
        {},
        policy=DEFAULT_POLICY,
        limits=limits,
    )
    server.close()
    assert result.status_code == 200 and len(result.excerpt) == 1000  # the stored excerpt
    assert sum(sent) < 10_000_000  # the rest was never read


def test_a_receiver_that_does_not_answer_times_out() -> None:
    from apps.integrations.http import Limits, post_checked
    from workers.ffmpeg.addresses import DEFAULT_POLICY

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)  # accepts, never answers
    limits = Limits(connect_timeout=1, read_timeout=0.5, max_response_bytes=4096, max_redirects=0)
    result = post_checked(
        f"http://127.0.0.1:{server.getsockname()[1]}/",
        b"{}",
        {},
        policy=DEFAULT_POLICY,
        limits=limits,
    )
    server.close()
    assert result.error_code == "webhook.timeout" and 400 <= result.duration_ms < 3000


def test_a_webhook_failing_long_and_often_is_switched_off_with_an_event(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(conf, "WEBHOOK_DISABLE_AFTER_FAILURES", 3)
    monkeypatch.setattr(conf, "WEBHOOK_DISABLE_AFTER_SECONDS", 0.0)
    hook = _webhook(receiver.url, receiver.secret)
    receiver.status = 500
    for _ in range(3):
        (delivery_id,) = _emit_and_dispatch()
        delivery_attempt(delivery_id=delivery_id)
    hook.refresh_from_db()
    assert (hook.active, hook.disabled_reason, hook.consecutive_failures) == (
        False,
        "webhook.failing",
        3,
    )
    disabled = OutboxEvent.objects.get(event_type="webhook.disabled")
    assert disabled.payload["webhook_id"] == hook.pk and disabled.level == "error"


def test_secrets_never_reach_the_log(receiver: Receiver, caplog: pytest.LogCaptureFixture) -> None:
    secret = new_secret()
    _webhook(receiver.url + "/path-token-abcdef123456", secret)
    receiver.status = 500
    (delivery_id,) = _emit_and_dispatch()
    with caplog.at_level(logging.DEBUG):
        delivery_attempt(delivery_id=delivery_id)
    assert caplog.text and secret not in caplog.text
    assert "path-token-abcdef123456" not in caplog.text  # only scheme://host:port is logged


def test_old_settled_events_are_forgotten_and_open_ones_kept(receiver: Receiver) -> None:
    from datetime import timedelta

    from apps.integrations.outbox import outbox_prune

    _webhook(receiver.url, receiver.secret)
    done, waiting = _emit_and_dispatch(), _emit_and_dispatch()
    delivery_attempt(delivery_id=done[0])
    long_ago = timezone.now() - timedelta(days=conf.OUTBOX_KEEP_DAYS + 1)
    OutboxEvent.objects.update(created_at=long_ago, dispatched_at=long_ago)
    assert outbox_prune() == 1
    assert list(WebhookDelivery.objects.values_list("pk", flat=True)) == waiting


def test_the_sweep_finds_what_no_task_carries(receiver: Receiver) -> None:
    from datetime import timedelta

    from apps.integrations.outbox import undispatched_events
    from apps.integrations.webhooks import due_deliveries

    _webhook(receiver.url, receiver.secret)
    (delivery_id,) = _emit_and_dispatch()  # dispatched, its attempt task lost
    emit("recording.ready", {})  # committed, its hand-over lost
    lost = OutboxEvent.objects.latest("id")
    a_while_ago = timezone.now() - timedelta(seconds=30)
    OutboxEvent.objects.filter(pk=lost.pk).update(created_at=a_while_ago)
    WebhookDelivery.objects.filter(pk=delivery_id).update(next_attempt_at=a_while_ago)
    assert undispatched_events() == [lost.pk]
    assert due_deliveries(grace_seconds=5) == [delivery_id]
    # A claim whose worker died is let go, then found.
    WebhookDelivery.objects.filter(pk=delivery_id).update(
        state="sending", claimed_until=a_while_ago
    )
    assert due_deliveries(grace_seconds=0) == [delivery_id]
    assert WebhookDelivery.objects.get(pk=delivery_id).state == "pending"


def _dripping_server(seconds: float) -> tuple[socket.socket, list[str]]:
    """Answers a byte at a time, each well within any read timeout, for `seconds`."""
    seen: list[str] = []

    def answer(conn: socket.socket) -> None:
        seen.append("request")
        try:
            conn.sendall(b"HTTP/1.1 200 OK\r\n")
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                conn.sendall(b"X")  # a header line that never ends
                time.sleep(0.2)
            seen.append("dripped to the end")
        except OSError:
            seen.append("cut")

    return _serve_once(answer), seen


def test_a_receiver_that_drips_its_answer_is_cut_off_at_the_attempts_deadline() -> None:
    from apps.integrations.http import Limits, post_checked
    from workers.ffmpeg.addresses import DEFAULT_POLICY

    server, _seen = _dripping_server(seconds=120)
    limits = Limits(
        connect_timeout=1, read_timeout=1, max_response_bytes=4096, max_redirects=0,
        total_timeout=2,
    )  # fmt: skip
    result = post_checked(
        f"http://127.0.0.1:{server.getsockname()[1]}/", b"{}", {}, policy=DEFAULT_POLICY,
        limits=limits,
    )  # fmt: skip
    server.close()
    assert result.error_code == "webhook.timeout", result
    assert "within 2 s" in result.error_detail
    # Far less than the drip (each byte came within the read timeout): the deadline cut it.
    assert result.duration_ms < 60_000


@pytest.mark.django_db(transaction=True)  # the attempt runs in a thread of its own
def test_a_claim_outlasts_anything_its_attempt_can_take(
    monkeypatch: pytest.MonkeyPatch, receiver: Receiver
) -> None:
    from apps.integrations.webhooks import claim_seconds, due_deliveries

    monkeypatch.setattr(conf, "WEBHOOK_TIMEOUT_SECONDS", 2.0)
    monkeypatch.setattr(conf, "WEBHOOK_READ_TIMEOUT_SECONDS", 1.0)
    assert claim_seconds() >= 2 * conf.WEBHOOK_TIMEOUT_SECONDS
    server, seen = _dripping_server(seconds=120)
    _webhook(f"http://127.0.0.1:{server.getsockname()[1]}/", receiver.secret)
    (delivery_id,) = _emit_and_dispatch()
    outcome: list[Any] = []
    attempt = threading.Thread(
        target=lambda: outcome.append(delivery_attempt(delivery_id=delivery_id))
    )
    attempt.start()
    deadline = time.monotonic() + 30
    while not seen and time.monotonic() < deadline:
        time.sleep(0.05)
    delivery = WebhookDelivery.objects.get(pk=delivery_id)
    assert delivery.state == "sending" and delivery.claimed_until is not None
    left = (delivery.claimed_until - timezone.now()).total_seconds()
    assert left > conf.WEBHOOK_TIMEOUT_SECONDS  # the attempt ends long before its claim
    assert due_deliveries(grace_seconds=0) == []  # a sweep meanwhile leaves it alone
    attempt.join(60)
    assert outcome[0].state == "pending"
    deadline = time.monotonic() + 30
    while len(seen) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    server.close()
    assert seen == ["request", "cut"]  # the connection was cut, not left to drip
    delivery.refresh_from_db()
    assert (delivery.error_code, delivery.attempts, delivery.claimed_until) == (
        "webhook.timeout", 1, None,
    )  # fmt: skip
