"""nginx-rtmp's callbacks as HTTP: the shared secret, the answers nginx acts on, no key in logs."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest
from django.test import Client

from apps.streams.live import conf, services
from apps.streams.live.models import LiveSession
from apps.streams.live.tests.factories import live_stream
from apps.streams.models import StreamRun

pytestmark = pytest.mark.django_db

UDP = {"kind": "udp", "url": "udp://127.0.0.1:9"}
ON_PUBLISH = "/internal/nginx-rtmp/on_publish"
ON_DONE = "/internal/nginx-rtmp/on_publish_done"


def call(path: str, token: str | None = None, **form: str) -> Any:
    query = f"?token={token}" if token is not None else ""
    data = {"app": conf.RTMP_APP, "addr": "198.51.100.4", "clientid": "7", **form}
    return Client().post(path + query, data)


def test_without_the_shared_secret_nothing_is_accepted(operator_user: Any) -> None:
    _, key = live_stream(operator_user, outputs=[UDP])
    for token in (None, "", "wrong", conf.callback_secret()[:-1]):
        assert call(ON_PUBLISH, token, name=key).status_code == 403
    assert Client().get(ON_PUBLISH + f"?token={conf.callback_secret()}").status_code == 405
    assert not LiveSession.objects.exists() and not StreamRun.objects.exists()


def test_an_accepted_publish_is_renamed_to_the_streams_internal_name(operator_user: Any) -> None:
    stream, key = live_stream(operator_user, outputs=[UDP])
    response = call(ON_PUBLISH, conf.callback_secret(), name=key)
    assert response.status_code == 302 and response["Location"] == f"stream-{stream.pk}"
    session = LiveSession.objects.get()
    assert session.publisher_address == "198.51.100.4" and session.publisher_client_id == "7"

    # Another application, or an unknown key: refused.
    assert call(ON_PUBLISH, conf.callback_secret(), name=key, app="other").status_code == 403
    assert call(ON_PUBLISH, conf.callback_secret(), name="nope" * 8).status_code == 403
    # The live key again: a second publisher, refused with a 4xx.
    assert call(ON_PUBLISH, conf.callback_secret(), name=key, clientid="8").status_code == 409


def test_publish_done_of_another_client_changes_nothing(operator_user: Any) -> None:
    stream, key = live_stream(operator_user, outputs=[UDP])
    call(ON_PUBLISH, conf.callback_secret(), name=key)
    assert call(ON_DONE, conf.callback_secret(), name=key, clientid="99").status_code == 200
    assert LiveSession.objects.get().disconnected_at is None
    assert call(ON_DONE, None, name=f"stream-{stream.pk}").status_code == 403
    assert call(ON_DONE, conf.callback_secret(), name=f"stream-{stream.pk}").status_code == 200
    assert LiveSession.objects.get().disconnected_at is not None


def test_the_key_is_in_no_log_line(
    operator_user: Any, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    stream, key = live_stream(operator_user, outputs=[UDP])
    call(ON_PUBLISH, conf.callback_secret(), name=key)
    call(ON_PUBLISH, conf.callback_secret(), name=key, clientid="8")  # refused
    call(ON_PUBLISH, "bad", name=key)
    call(ON_DONE, conf.callback_secret(), name=f"stream-{stream.pk}")
    out, err = capfd.readouterr()
    assert caplog.records and key not in caplog.text and key not in out + err
    assert conf.callback_secret() not in caplog.text + out + err


def test_a_session_announces_its_start_and_end_once(operator_user: Any) -> None:
    from castcore.outbox.models import OutboxEvent

    stream, key = live_stream(operator_user, outputs=[UDP])
    call(ON_PUBLISH, conf.callback_secret(), name=key)
    call(ON_DONE, conf.callback_secret(), name=f"stream-{stream.pk}")
    call(ON_PUBLISH, conf.callback_secret(), name=key, clientid="8")  # continues: no event
    services.live_stream_stop(actor=operator_user, stream=stream)
    events = list(
        OutboxEvent.objects.filter(event_type__startswith="live_stream.")
        .order_by("pk")
        .values_list("event_type", "payload")
    )
    assert [kind for kind, _ in events] == ["live_stream.started", "live_stream.ended"]
    # Its job, never claimed by a worker here, is stopped with the session, and says so.
    assert OutboxEvent.objects.filter(event_type="stream_job.stopped").count() == 1
    started, ended = events[0][1], events[1][1]
    assert started["live_stream_id"] == stream.pk and started["slug"] == stream.slug
    assert ended["ended_at"] and ended["reconnects"] == 1
    assert key not in str(events) and "198.51.100.4" not in str(events)


def test_the_srt_relays_signed_name_is_accepted_and_a_forged_or_expired_one_refused(
    operator_user: Any,
) -> None:
    from apps.streams.live.models import IngestProtocol, ingest_key_digest
    from apps.streams.live.srt import relay_signature

    stream, key = live_stream(operator_user, outputs=[UDP], srt_enabled=True)
    name = f"srt-{stream.pk}"
    later = int(time.time()) + 60
    good = relay_signature(stream.pk, later, ingest_key_digest(key))
    secret = conf.callback_secret()
    refused = [
        {"exp": str(later), "sig": "0" * 64},  # forged
        {"exp": str(later), "sig": ""},
        {"exp": str(later + 1), "sig": good},  # another expiry than the one signed
        {"exp": str(later), "sig": relay_signature(stream.pk, later, ingest_key_digest("x"))},
        {"exp": str(int(time.time()) - 1), "sig": relay_signature(
            stream.pk, int(time.time()) - 1, ingest_key_digest(key))},  # expired
        {"exp": "", "sig": good},
    ]  # fmt: skip
    for form in refused:
        assert call(ON_PUBLISH, secret, name=name, **form).status_code == 403, form
    other, _ = live_stream(operator_user, outputs=[UDP], srt_enabled=True)
    assert (
        call(ON_PUBLISH, secret, name=f"srt-{other.pk}", exp=str(later), sig=good).status_code
        == 403
    )
    assert not LiveSession.objects.exists() and not StreamRun.objects.exists()

    response = call(ON_PUBLISH, secret, name=name, exp=str(later), sig=good)
    assert response.status_code == 302 and response["Location"] == f"stream-{stream.pk}"
    assert LiveSession.objects.get().protocol == IngestProtocol.SRT


def test_a_relay_signature_of_a_rotated_key_is_refused(operator_user: Any) -> None:
    from apps.streams.live.models import ingest_key_digest
    from apps.streams.live.srt import relay_signature

    stream, old_key = live_stream(operator_user, outputs=[UDP], srt_enabled=True)
    later = int(time.time()) + 60
    sig = relay_signature(stream.pk, later, ingest_key_digest(old_key))
    services.live_stream_rotate_key(actor=None, stream=stream)
    name = f"srt-{stream.pk}"
    assert (
        call(ON_PUBLISH, conf.callback_secret(), name=name, exp=str(later), sig=sig).status_code
        == 403
    )
