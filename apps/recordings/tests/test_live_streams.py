"""Producer sockets (ALiS, asciicast v2) relayed to viewers; live flag and heartbeat; recording."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import pytest
import pytest_asyncio
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connections
from django.utils import timezone

from apps.recordings.alis import MAGIC, AlisDecoder, Eot, Init, Output, encode_event
from apps.recordings.models import Recording, TerminalStream
from apps.recordings.tests.factories import a_stream
from castcore.asgi import application
from castcore.tests.websockets import refusal_code

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]
HEADERS = [(b"origin", b"http://localhost"), (b"host", b"localhost")]


def socket(path: str, subprotocols: list[str] | None = None) -> WebsocketCommunicator:
    return WebsocketCommunicator(application, path, headers=HEADERS, subprotocols=subprotocols)


_decoders: dict[int, AlisDecoder] = {}


@pytest_asyncio.fixture(autouse=True)
async def _close_thread_connections() -> Any:
    # The async ORM calls below run in asgiref's executor thread, whose
    # connection would outlive the test and block dropping the test database.
    yield
    await sync_to_async(connections.close_all)()


async def make_stream(**kwargs: Any) -> TerminalStream:
    return await sync_to_async(a_stream)(**kwargs)


async def reload(stream: TerminalStream) -> TerminalStream:
    return await TerminalStream.objects.aget(pk=stream.pk)


async def viewer_events(viewer: WebsocketCommunicator, count: int) -> list[Any]:
    """The next `count` ALiS events (one decoder per viewer, which saw the magic)."""
    decoder = _decoders.setdefault(id(viewer), AlisDecoder())
    if decoder.state == "magic":
        decoder.feed(MAGIC)
    events: list[Any] = []
    while len(events) < count:
        event = decoder.feed(await viewer.receive_from(timeout=3))
        if event is not None:
            events.append(event)
    return events


async def test_an_alis_producer_reaches_a_late_viewer() -> None:
    stream = await make_stream(visibility="public")
    producer = socket(f"/ws/S/{stream.producer_token}", ["v1.alis"])
    connected, subprotocol = await producer.connect()
    assert connected and subprotocol == "v1.alis"
    assert (await reload(stream)).live is True

    await producer.send_to(bytes_data=MAGIC)
    await producer.send_to(bytes_data=encode_event(Init(last_id=0, time=0, cols=90, rows=30)))
    await producer.send_to(bytes_data=encode_event(Output(1, 1000, "before you came\r\n")))
    await producer.receive_nothing(timeout=0.2)

    viewer = socket(f"/ws/s/{stream.pk}", ["v1.alis", "v2.asciicast", "v3.asciicast", "raw"])
    connected, subprotocol = await viewer.connect()
    assert connected and subprotocol == "v1.alis"
    assert await viewer.receive_from(timeout=3) == MAGIC
    (init,) = await viewer_events(viewer, 1)
    assert isinstance(init, Init) and (init.cols, init.rows, init.last_id) == (90, 30, 1)
    assert init.init_data == "before you came\r\n"

    await producer.send_to(bytes_data=encode_event(Output(2, 500_000, "live!")))
    (output,) = await viewer_events(viewer, 1)
    assert output == Output(2, 500_000, "live!")

    await producer.disconnect()
    (eot,) = await viewer_events(viewer, 1)
    assert isinstance(eot, Eot)
    assert (await reload(stream)).live is False
    await viewer.disconnect()


async def test_an_asciicast_v2_producer_is_detected_from_its_first_message() -> None:
    stream = await make_stream()  # unlisted: only its token finds it
    producer = socket(f"/ws/S/{stream.producer_token}")
    connected, subprotocol = await producer.connect()
    assert connected and subprotocol is None
    viewer = socket(f"/ws/s/{stream.url_token}", ["v1.alis"])
    assert (await viewer.connect())[0]
    assert await viewer.receive_from(timeout=3) == MAGIC

    await producer.send_to(text_data=json.dumps({"version": 2, "width": 100, "height": 40}) + "\n")
    await producer.send_to(text_data='[0.25, "o", "hello "]\n[1.0, "o", "world"]\n')

    init, first, second = await viewer_events(viewer, 3)
    assert isinstance(init, Init) and (init.cols, init.rows) == (100, 40)
    assert (first.data, first.rel_time) == ("hello ", 250_000)
    assert (second.data, second.rel_time) == ("world", 750_000)
    assert (await reload(stream)).cols == 100
    await producer.disconnect()
    await viewer.disconnect()


async def test_unknown_producer_tokens_and_unlisted_ids_are_refused() -> None:
    stream = await make_stream()
    assert await refusal_code(socket("/ws/S/not-a-real-token-xyz")) == 4404
    # Unlisted: its id does not work.
    assert await refusal_code(socket(f"/ws/s/{stream.pk}")) == 4404


async def test_garbage_after_alis_magic_closes_the_producer() -> None:
    stream = await make_stream()
    producer = socket(f"/ws/S/{stream.producer_token}", ["v1.alis"])
    await producer.connect()
    await producer.send_to(bytes_data=b"nonsense")
    output = await producer.receive_output(timeout=3)
    assert output["type"] == "websocket.close" and output["code"] == 4400


async def test_a_live_stream_is_recorded_to_a_new_recording(media_root: Any) -> None:
    stream = await make_stream(record=True, title="Live demo")
    producer = socket(f"/ws/S/{stream.producer_token}", ["v2.asciicast"])
    await producer.connect()
    await producer.send_to(text_data=json.dumps({"version": 2, "width": 80, "height": 24}))
    await producer.send_to(text_data='[0.5, "o", "recorded line\\r\\n"]')
    await producer.send_to(text_data='[2.0, "o", "bye"]')
    # The consumer starts the recording as the header arrives: wait for it, not a fixed
    # moment (on a loaded machine the consumer may not have run yet).
    row = await wait_for(lambda r: r.recording_id is not None, stream, timeout=30)
    in_progress = await Recording.objects.aget()
    assert in_progress.status == Recording.Status.STARTED
    assert row.recording_id == in_progress.pk

    await producer.disconnect()

    recording = await Recording.objects.aget()
    assert recording.status == Recording.Status.AVAILABLE, recording.reason
    assert recording.title == "Live demo" and recording.asciicast_version == 3
    assert recording.duration == pytest.approx(2.0)
    text = (media_root / recording.file.name).read_text()
    assert "recorded line" in text and "bye" in text
    assert (await reload(stream)).recording_id is None


@pytest.fixture
def fast_heartbeat(monkeypatch: pytest.MonkeyPatch) -> None:
    from apps.recordings import conf

    monkeypatch.setattr(conf, "LIVE_HEARTBEAT_SECONDS", 0.05)


async def wait_for(check: Any, stream: TerminalStream, timeout: float = 3) -> TerminalStream:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        row = await reload(stream)
        if check(row) or asyncio.get_running_loop().time() > deadline:
            return row
        await asyncio.sleep(0.02)


async def test_an_idle_producer_keeps_beating_and_each_connection_cycle_flips_live(
    fast_heartbeat: None,
) -> None:
    stream = await make_stream()
    for _ in range(2):
        producer = socket(f"/ws/S/{stream.producer_token}", ["v1.alis"])
        assert (await producer.connect())[0]
        assert (await reload(stream)).is_live
        long_ago = timezone.now() - timedelta(hours=1)
        await TerminalStream.objects.filter(pk=stream.pk).aupdate(last_seen_at=long_ago)
        # Checked on the row as written: the 50 ms heartbeat may refresh it before a
        # reload on a busy machine.
        stale = await reload(stream)
        stale.last_seen_at = long_ago
        assert not stale.is_live

        # No output at all: the heartbeat alone brings it back.
        row = await wait_for(lambda r: r.is_live, stream)
        assert row.is_live and row.last_seen_at is not None and row.last_seen_at > long_ago

        await producer.disconnect()
        row = await reload(stream)
        assert (row.live, row.is_live, row.producer_channel) == (False, False, "")


async def test_a_connected_producer_restores_a_flag_the_cleanup_reset(
    fast_heartbeat: None,
) -> None:
    stream = await make_stream()
    producer = socket(f"/ws/S/{stream.producer_token}", ["v1.alis"])
    assert (await producer.connect())[0]
    await TerminalStream.objects.filter(pk=stream.pk).aupdate(live=False, producer_channel="")

    row = await wait_for(lambda r: r.live, stream)

    # A channel name of this process (the Redis pub/sub layer prefixes it with "asgi").
    assert row.is_live and "specific." in row.producer_channel
    await producer.disconnect()


async def test_a_producer_whose_heartbeat_finds_another_owner_closes_itself(
    fast_heartbeat: None,
) -> None:
    stream = await make_stream()
    producer = socket(f"/ws/S/{stream.producer_token}", ["v1.alis"])
    assert (await producer.connect())[0]
    # Another producer attached and its kick to this socket was lost.
    await TerminalStream.objects.filter(pk=stream.pk).aupdate(producer_channel="specific.other!x")

    output = await producer.receive_output(timeout=3)

    assert output == {"type": "websocket.close", "code": 4001}
    await producer.wait()
    assert (await reload(stream)).producer_channel == "specific.other!x"  # not detached by us
