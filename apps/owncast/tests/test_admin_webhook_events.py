"""Owncast webhook events, end to end: a webhook made through a stream's Owncast admin API
gets each event of that stream in Owncast's shape (`{"type", "eventData"}`), delivered by
CastCore's machinery (outbox, a real Celery worker, Standard Webhooks signature headers) to
a real HTTP receiver. Needs PostgreSQL and Redis (skipped without)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from apps.chat import services as chat_services
from apps.chat.models import ChatMessage
from apps.integrations.tests.receiver import Received, Receiver

# A Celery worker process on the default queue (the integrations app's delivery test's).
from apps.integrations.tests.test_delivery_with_a_worker import worker  # noqa: F401
from apps.owncast.tests.admin_client import Admin, basic
from apps.owncast.webhooks import OWNCAST_EVENT_TYPES
from apps.streams.live.services import live_publish_start, live_stream_stop

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def receivers() -> Iterator[tuple[Receiver, Receiver]]:
    red, blue = Receiver().start(), Receiver().start()
    yield red, blue
    red.stop()
    blue.stop()


def _types(got: list[Received]) -> set[str]:
    return {item.json()["type"] for item in got}


def _one(receiver: Receiver, kind: str) -> dict[str, Any]:
    matching = [got.json() for got in receiver.received if got.json()["type"] == kind]
    assert len(matching) == 1, (kind, matching)
    return matching[0]["eventData"]


def test_each_owncast_event_of_the_stream_reaches_its_webhook_in_owncasts_shape(
    worker: Any,  # noqa: F811
    receivers: tuple[Receiver, Receiver],
    streams: dict[str, Any],
    settings: Any,
    tmp_path: Path,
) -> None:
    red_receiver, blue_receiver = receivers
    red = Admin("red", basic(streams["red_key"]))
    made = red.post(
        "webhooks/create",
        {"url": red_receiver.url + "/owncast", "events": list(OWNCAST_EVENT_TYPES)},
    )
    assert made.status_code == 200, made.content
    red_receiver.secret = made.json()["secret"]
    blue = Admin("blue", basic(streams["blue_key"]))
    assert (
        blue.post("webhooks/create", {"url": blue_receiver.url, "events": ["CHAT"]}).status_code
        == 200
    )

    stream = streams["red"]
    # STREAM_STARTED: a publish accepted (the job's run waits for an ffmpeg worker: none here).
    live_publish_start(key=streams["red_key"], protocol="rtmp", address="127.0.0.1")
    # USER_JOINED, CHAT, NAME_CHANGE: a viewer's socket opens, writes, renames.
    identity, _ = chat_services.identity_register(display_name="alice")
    chat_services.connection_open(stream=stream, identity=identity, address="127.0.0.1")
    message = chat_services.message_send(
        stream=stream, identity=identity, body="hello **red**", address="127.0.0.1"
    )
    chat_services.identity_rename(identity=identity, stream=stream, new_name="alice2")
    # A system message is no Owncast webhook event.
    chat_services.system_message_send(stream=stream, body="welcome", actor=None)
    # STREAM_TITLE_UPDATED and VISIBILITY-UPDATE through the Owncast admin API.
    assert red.set("streamtitle", "Desert Bus").json()["success"] is True
    hidden = red.post("chat/messagevisibility", {"idArray": [str(message.pk)], "visible": False})
    assert hidden.json()["success"] is True
    # STREAM_STOPPED: the publish ended.
    live_stream_stop(actor=None, stream=stream)

    log = tmp_path / "worker.log"
    wanted = set(OWNCAST_EVENT_TYPES)
    assert red_receiver.wait_for(lambda got: _types(got) >= wanted, timeout=90), (
        _types(red_receiver.received), log.read_text()[-3000:],
    )  # fmt: skip
    assert red_receiver.wait_for(lambda got: len(got) >= len(wanted), timeout=5)
    assert len(red_receiver.received) == len(wanted)  # one each; nothing for the system message
    assert all(got.signature_ok for got in red_receiver.received)
    assert all(got.path == "/owncast" for got in red_receiver.received)
    assert all(set(got.json()) == {"type", "eventData"} for got in red_receiver.received)

    chat = _one(red_receiver, "CHAT")
    assert chat["id"] == str(message.pk) and chat["rawBody"] == "hello **red**"
    assert chat["body"] == ChatMessage.objects.get(pk=message.pk).body_html
    assert chat["user"]["id"] == str(identity.pk) and chat["user"]["displayName"] == "alice"
    assert chat["timestamp"] and "visible" in chat
    joined = _one(red_receiver, "USER_JOINED")
    assert joined["type"] == "USER_JOINED" and joined["user"]["id"] == str(identity.pk)
    renamed = _one(red_receiver, "NAME_CHANGE")
    assert renamed["newName"] == "alice2" and "alice" in renamed["user"]["previousNames"]
    visibility = _one(red_receiver, "VISIBILITY-UPDATE")
    assert visibility["ids"] == [str(message.pk)] and visibility["visible"] is False
    title = _one(red_receiver, "STREAM_TITLE_UPDATED")
    assert title["streamTitle"] == "Desert Bus" and title["name"] == "Red"
    for kind in ("STREAM_STARTED", "STREAM_STOPPED"):
        data = _one(red_receiver, kind)
        assert set(data) == {"id", "name", "summary", "streamTitle", "timestamp"}
        assert data["name"] == "Red"
    # The other stream's webhook got none of the red stream's events.
    assert blue_receiver.received == []
