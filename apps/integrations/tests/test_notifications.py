from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from apps.integrations import conf
from apps.integrations.models import NotificationMessage, NotificationTarget
from apps.integrations.notify import message_send
from apps.integrations.outbox import outbox_dispatch
from apps.integrations.tests.receiver import Receiver
from castcore.events import emit
from castcore.outbox.models import OutboxEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver().start()
    yield receiver
    receiver.stop()


def _target(receiver: Receiver, **fields: Any) -> NotificationTarget:
    fields.setdefault("events", ["*"])
    fields.setdefault("min_level", "info")
    return NotificationTarget.objects.create(
        name="ops", url=f"json://127.0.0.1:{receiver.port}/notify?token-abcdefghijkl", **fields
    )


def _fail(job_id: int = 7) -> list[tuple[int, float]]:
    emit("stream_job.failed", {"stream_job_id": job_id}, subject=f"stream_job:{job_id}")
    return outbox_dispatch(event_id=OutboxEvent.objects.latest("id").pk).messages


def test_the_url_is_write_only_and_masked(admin_api: Any, receiver: Receiver) -> None:
    url = f"json://127.0.0.1:{receiver.port}/hook/secret-path-token"
    body = {"name": "ops", "url": url, "events": ["stream_job.failed"], "min_level": "error"}
    created = admin_api.post("/api/v1/notifications", body)
    assert created.status_code == 201, created.json()
    assert created.json()["url"] == "••••" + url[-4:]
    assert url not in str(admin_api.get("/api/v1/notifications").json())
    assert NotificationTarget.objects.get().url == url
    from apps.accounts.models import AuditEntry

    entry = AuditEntry.objects.get(action="notification.create")
    assert "secret-path-token" not in str(entry.changes)


def test_only_admins_manage_notifications(operator_api: Any) -> None:
    assert operator_api.get("/api/v1/notifications").status_code == 403


def test_a_url_apprise_does_not_know_is_refused(admin_api: Any) -> None:
    body = {"name": "x", "url": "nosuchscheme://foo", "events": ["*"]}
    response = admin_api.post("/api/v1/notifications", body)
    assert response.status_code == 400 and "notification.url_invalid" in str(response.json())
    assert "nosuchscheme://foo" not in str(response.json())


def test_the_test_endpoint_sends_through_apprise_and_reports(
    admin_api: Any, receiver: Receiver
) -> None:
    target = _target(receiver)
    response = admin_api.post(f"/api/v1/notifications/{target.pk}/test")
    assert response.json() == {"ok": True, "error_code": ""}
    (got,) = receiver.received
    assert got.path.startswith("/notify") and got.json()["title"] == "CastCore: test notification"
    receiver.stop()
    response = admin_api.post(f"/api/v1/notifications/{target.pk}/test")
    assert response.json() == {"ok": False, "error_code": "notification.send_failed"}


def test_an_event_reaches_the_target_as_a_json_message(receiver: Receiver) -> None:
    _target(receiver)
    ((message_id, delay),) = _fail()
    assert delay == 0
    assert message_send(message_id=message_id) is None
    (got,) = receiver.received
    assert got.json()["title"] == "CastCore: stream_job.failed (stream_job:7)"
    assert '"stream_job_id": 7' in got.json()["message"] and got.json()["type"] == "failure"
    assert NotificationMessage.objects.get().state == "sent"


def test_a_target_gets_only_events_at_or_above_its_level(receiver: Receiver) -> None:
    _target(receiver, min_level="error")
    emit("recording.ready", {"recording_id": 1})
    assert outbox_dispatch(event_id=OutboxEvent.objects.get().pk).messages == []
    assert len(_fail()) == 1


def test_a_flapping_job_sends_one_message_per_window(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(conf, "NOTIFICATION_WINDOW_SECONDS", 300.0)
    _target(receiver)
    ((first, _delay),) = _fail()
    message_send(message_id=first)
    # The job fails 99 more times in the window: one message waits, at the window's end.
    queued = [item for _ in range(99) for item in _fail()]
    assert len(queued) == 1
    second, delay = queued[0]
    assert 290 <= delay <= 300
    assert message_send(message_id=second) is None  # not due yet: nothing sent
    assert len(receiver.received) == 1
    # The window passes (counted from when the first went out).
    NotificationMessage.objects.filter(pk=first).update(sent_at=timezone.now() - timedelta(days=1))
    NotificationMessage.objects.filter(pk=second).update(send_at=timezone.now())
    message_send(message_id=second)
    assert len(receiver.received) == 2
    assert receiver.received[1].json()["title"].endswith("×99")
    assert "99 × stream_job.failed within 300 s" in receiver.received[1].json()["message"]
    # Another job's failures are another story.
    assert len(_fail(job_id=8)) == 1


def test_a_failed_send_is_retried_then_given_up(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(conf, "NOTIFICATION_MAX_ATTEMPTS", 2)
    _target(receiver)
    receiver.stop()
    ((message_id, _delay),) = _fail()
    assert message_send(message_id=message_id) == 10.0
    NotificationMessage.objects.filter(pk=message_id).update(send_at=timezone.now())
    assert message_send(message_id=message_id) is None
    message = NotificationMessage.objects.get()
    assert (message.state, message.attempts, message.error_code) == (
        "failed",
        2,
        "notification.send_failed",
    )


def test_a_target_on_a_link_local_address_is_never_contacted() -> None:
    NotificationTarget.objects.create(
        name="meta", url="json://169.254.169.254/latest", events=["*"], min_level="info"
    )
    ((message_id, _),) = _fail()
    message_send(message_id=message_id)
    assert NotificationMessage.objects.get().error_code == "notification.address_not_allowed"


def test_the_url_never_reaches_the_log(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    target = _target(receiver)
    receiver.stop()
    with caplog.at_level(logging.DEBUG):
        ((message_id, _),) = _fail()
        message_send(message_id=message_id)
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "notification.send_failed" in text
    assert target.url not in text and "token-abcdefghijkl" not in text


def test_a_redirect_to_a_link_local_address_is_not_followed(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.redirect_to = "http://169.254.169.254/latest/meta-data/iam/"
    _target(receiver)
    ((message_id, _),) = _fail()
    with caplog.at_level(logging.WARNING):
        message_send(message_id=message_id)
    message = NotificationMessage.objects.get()
    assert (message.state, message.error_code) == ("failed", "notification.address_not_allowed")
    assert "169.254.169.254 (link_local)" in caplog.text  # the log says why


def test_a_host_that_resolves_to_a_link_local_address_when_apprise_connects_is_refused(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    # A name that answers an allowed address to the first lookup and the metadata
    # service's to the next ones (DNS rebinding): only a check of the address that is
    # connected to catches it.
    real = socket.getaddrinfo
    lookups: list[str] = []

    def rebinding(host: str, *args: Any, **kwargs: Any) -> Any:
        if host != "hooks.rebind.test":
            return real(host, *args, **kwargs)
        lookups.append(host)
        address = "127.0.0.1" if len(lookups) == 1 else "169.254.169.254"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, receiver.port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    NotificationTarget.objects.create(
        name="ops", url=f"json://hooks.rebind.test:{receiver.port}/n", events=["*"],
        min_level="info",
    )  # fmt: skip
    ((message_id, _),) = _fail()
    message_send(message_id=message_id)
    assert NotificationMessage.objects.get().error_code == "notification.address_not_allowed"
    assert receiver.received == []


def test_outside_a_send_connections_are_not_checked(receiver: Receiver) -> None:
    import urllib3

    from apps.integrations.apprise_http import checked_connections
    from workers.ffmpeg.addresses import AddressPolicy

    strict = AddressPolicy(allow_private=False)  # refuses loopback
    with (
        checked_connections(strict, max_response_bytes=65536) as scope,
        pytest.raises(urllib3.exceptions.HTTPError),
    ):
        urllib3.request("POST", f"{receiver.url}/a", body=b"{}", retries=False)
    assert scope.refused == ["127.0.0.1 is or resolves to 127.0.0.1 (local)"]
    assert urllib3.request("POST", f"{receiver.url}/b", body=b"{}").status == 200
    assert [got.path for got in receiver.received] == ["/b"]


def test_an_answer_is_read_only_up_to_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket
    import threading

    from apps.integrations.notify import target_test

    monkeypatch.setattr(conf, "WEBHOOK_MAX_RESPONSE_BYTES", 4096)
    announced = 256 * 1024 * 1024  # far more than any socket buffer holds
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    sent: list[int] = []

    def answer_without_end() -> None:
        conn, _ = server.accept()
        conn.recv(65536)
        head = f"HTTP/1.1 200 OK\r\nContent-Length: {announced}\r\n\r\n".encode()
        total = 0
        try:
            conn.sendall(head)
            while total < announced:
                total += conn.send(b"x" * 65536)
        except OSError:  # the client closed: it read up to its cap and no further
            pass
        sent.append(total)
        conn.close()

    thread = threading.Thread(target=answer_without_end, daemon=True)
    thread.start()
    target = NotificationTarget.objects.create(
        name="big", url=f"json://127.0.0.1:{server.getsockname()[1]}/n", events=["*"]
    )
    result = target_test(target=target)
    thread.join(timeout=120)
    server.close()
    assert result.ok  # a 200 is a delivery; its body is what the cap applies to
    assert sent and sent[0] < announced
