"""Live terminal streams: the producer socket (/ws/S/<producer token>) and viewers (/ws/s/<token>).

Producers speak ALiS v1 (binary) or asciicast v2/v3 lines (text), chosen by
subprotocol or sniffed from the first message; anything else is raw output.
Viewers get ALiS (or asciicast v2/v3 if that is all they offer). Close codes
follow the player: 4000-4100 mean the stream ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from pathlib import Path
from typing import IO, Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.core.exceptions import ObjectDoesNotExist

from apps.recordings import conf, selectors, stream_services
from apps.recordings.alis import (
    MAGIC,
    AlisDecoder,
    AlisError,
    AlisEvent,
    Eot,
    Init,
    Output,
    Protocol,
    Resize,
    detect_protocol,
    encode_event,
    negotiate_subprotocol,
)
from apps.recordings.alis_convert import AlisToAsciicast, AsciicastToAlis
from apps.recordings.live import LiveState, from_wire, to_wire
from castcore.ws import CLOSE_BAD_DATA, CLOSE_NOT_FOUND, refuse

logger = logging.getLogger("castcore.recordings.live")

CLOSE_REPLACED = 4001


class ProducerConsumer(AsyncWebsocketConsumer):
    """One broadcasting CLI: decodes its messages and fans ALiS events out to viewers."""

    stream_id: int | None = None
    heartbeat: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        token = self.scope["url_route"]["kwargs"]["token"]
        stream = await database_sync_to_async(stream_services.stream_by_producer_token)(token)
        if stream is None:
            await refuse(self, CLOSE_NOT_FOUND)
            return
        self.stream_id, self.group = stream.pk, stream_services.stream_group(stream.pk)
        offered = [p for p in self.scope.get("subprotocols", []) if p != "raw"]
        self.protocol: Protocol | None = negotiate_subprotocol(offered)
        self.state = LiveState(max_output=conf.LIVE_SNAPSHOT_BYTES)
        self.alis = AlisDecoder()
        self.asciicast = AsciicastToAlis()
        self.raw_clock: float | None = None
        self.recorder: tuple[int, IO[str], AlisToAsciicast] | None = None
        await self.accept(subprotocol=self.protocol)
        previous = await database_sync_to_async(stream_services.stream_producer_attach)(
            stream_id=stream.pk, channel=self.channel_name
        )
        if previous:
            await self.channel_layer.send(
                previous, {"type": "producer.kick", "code": CLOSE_REPLACED}
            )
        self.record_wanted = stream.record
        self.heartbeat = asyncio.create_task(self._heartbeat())

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.stream_id is None:
            return
        message: str | bytes = bytes_data if bytes_data is not None else (text_data or "")
        if self.protocol is None:
            self.protocol = detect_protocol(subprotocol=None, first_message=message)
        try:
            events = self._decode(message)
        except AlisError as exc:
            logger.info("Stream %s: bad producer message (%s)", self.stream_id, exc.code)
            await self.close(code=CLOSE_BAD_DATA)
            return
        for event in events:
            await self._emit(event)

    def _decode(self, message: str | bytes) -> list[AlisEvent]:
        if self.protocol == "v1.alis":
            if isinstance(message, str):
                raise AlisError("alis.not_binary", "ALiS messages are binary")
            event = self.alis.feed(message)
            return [event] if event is not None else []
        text = message if isinstance(message, str) else message.decode("utf-8", errors="replace")
        if self.protocol in ("v2.asciicast", "v3.asciicast"):
            return self.asciicast.feed(text)
        # raw: terminal output as it comes, timed by our clock, 80x24 unless told otherwise.
        now = time.monotonic()
        events: list[AlisEvent] = []
        if self.raw_clock is None:
            self.raw_clock = now
            events.append(Init(last_id=0, time=0, cols=80, rows=24))
        rel, self.raw_clock = int((now - self.raw_clock) * 1_000_000), now
        events.append(Output(self.state.last_id + 1, rel, text))
        return events

    async def _emit(self, event: AlisEvent) -> None:
        at = self.state.feed(event)
        await self.channel_layer.group_send(
            self.group, {"type": "viewer.event", "event": to_wire(event, at)}
        )
        if isinstance(event, Init | Resize):
            await self._beat()  # the size shows in the API at once, not at the next beat
        if isinstance(event, Init):
            if self.recorder is not None:
                await self._stop_recording()  # a new Init starts a new recording
            if self.record_wanted:
                await self._start_recording()
        elif isinstance(event, Eot):
            await self._stop_recording()
        elif self.recorder is not None:
            self._write(event)

    async def _beat(self) -> bool:
        return await database_sync_to_async(stream_services.stream_producer_heartbeat)(
            stream_id=self.stream_id,
            channel=self.channel_name,
            cols=self.state.cols if self.state.started else None,
            rows=self.state.rows if self.state.started else None,
        )

    async def _heartbeat(self) -> None:
        """Keep last_seen_at fresh while the socket is open, even when the terminal is idle.

        If this process dies the beats stop, and the stream stops being live
        after conf.LIVE_STALE_SECONDS although no disconnect ever ran.
        """
        while True:
            await asyncio.sleep(conf.LIVE_HEARTBEAT_SECONDS)
            try:
                still_ours = await self._beat()
            except Exception:  # the database is away: try again next beat
                logger.warning("Stream %s: heartbeat failed", self.stream_id, exc_info=True)
                continue
            if not still_ours:  # replaced, or the stream was deleted; the kick may be lost
                await self.close(code=CLOSE_REPLACED)
                return

    # --- recording -------------------------------------------------------------------

    def _write(self, event: AlisEvent) -> None:
        assert self.recorder is not None
        _, handle, writer = self.recorder
        for line in writer.feed(event):
            handle.write(line + "\n")

    async def _start_recording(self) -> None:
        if self.recorder is not None or not self.state.started:
            return
        try:
            recording, path = await database_sync_to_async(stream_services.stream_recording_start)(
                stream_id=self.stream_id
            )
        except ObjectDoesNotExist:
            return
        # Open for the whole broadcast; _stop_recording closes it.
        handle = Path(path).open("w", encoding="utf-8")  # noqa: SIM115
        self.recorder = (recording.pk, handle, AlisToAsciicast(3))
        self._write(self.state.snapshot())

    async def _stop_recording(self) -> None:
        if self.recorder is None:
            return
        recording_id, handle, _ = self.recorder
        self.recorder = None
        handle.close()
        await database_sync_to_async(stream_services.stream_recording_finish)(
            recording_id=recording_id, stream_id=self.stream_id
        )

    # --- messages from the server side ---------------------------------------------------

    async def producer_snapshot_request(self, message: dict[str, Any]) -> None:
        if self.state.started:
            snapshot = self.state.snapshot()
            await self.channel_layer.send(
                message["reply_to"],
                {"type": "viewer.snapshot", "event": to_wire(snapshot, snapshot.time)},
            )

    async def producer_record(self, message: dict[str, Any]) -> None:
        self.record_wanted = bool(message.get("on"))
        await (self._start_recording() if self.record_wanted else self._stop_recording())

    async def producer_kick(self, message: dict[str, Any]) -> None:
        await self.close(code=int(message.get("code", CLOSE_REPLACED)))

    async def disconnect(self, code: int) -> None:
        if self.stream_id is None:
            return
        if self.heartbeat is not None:
            self.heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.heartbeat
        await self._stop_recording()
        still_ours = await database_sync_to_async(stream_services.stream_producer_detach)(
            stream_id=self.stream_id, channel=self.channel_name
        )
        if still_ours and self.state.started:
            eot = Eot(0)
            await self.channel_layer.group_send(
                self.group, {"type": "viewer.event", "event": to_wire(eot, self.state.feed(eot))}
            )


class ViewerConsumer(AsyncWebsocketConsumer):
    """A player watching a stream: ALiS preferred, asciicast v2/v3 if that is all it speaks."""

    group: str | None = None

    async def connect(self) -> None:
        key = self.scope["url_route"]["kwargs"]["key"]
        allowed, stream = await database_sync_to_async(self._authorize)(key)
        if not allowed or stream is None:
            await refuse(self, CLOSE_NOT_FOUND)
            return
        offered = self.scope.get("subprotocols", [])
        chosen = negotiate_subprotocol([p for p in offered if p != "raw"])
        self.protocol: Protocol = chosen or "v1.alis"
        self.group = stream_services.stream_group(stream.pk)
        self.ready = False
        self.last_id = -1
        self.clock = 0
        self.converter = AlisToAsciicast(3 if self.protocol == "v3.asciicast" else 2)
        await self.accept(subprotocol=chosen)
        await self.channel_layer.group_add(self.group, self.channel_name)
        if self.protocol == "v1.alis":
            await self.send(bytes_data=MAGIC)
        if stream.producer_channel:
            await self.channel_layer.send(
                stream.producer_channel,
                {"type": "producer.snapshot_request", "reply_to": self.channel_name},
            )

    def _authorize(self, key: str) -> tuple[bool, Any]:
        stream = selectors.stream_by_key(key, public_ids_only=True)
        if stream is None:
            return False, None
        if selectors.may_view(stream, self.scope.get("user")):
            return True, stream
        from urllib.parse import parse_qs

        from apps.recordings.views import check_viewer_ticket

        tickets = parse_qs(self.scope.get("query_string", b"").decode("latin-1")).get("ticket", [])
        return bool(tickets) and check_viewer_ticket(tickets[0], stream.pk), stream

    async def viewer_snapshot(self, message: dict[str, Any]) -> None:
        # The producer may have sent a fresh Init to the group meanwhile: that one wins.
        if not self.ready:
            await self.viewer_event(message)

    async def viewer_event(self, message: dict[str, Any]) -> None:
        wire = message["event"]
        if wire["t"] == "init":
            self.ready, self.last_id, self.clock = True, wire["last_id"], wire["time"]
            await self._send(from_wire(wire, 0))
            return
        if not self.ready or (wire["t"] != "eot" and wire["id"] <= self.last_id):
            return  # before our Init, or already inside the snapshot
        rel, self.clock = max(wire["time"] - self.clock, 0), max(wire["time"], self.clock)
        if wire["t"] == "eot":
            self.ready = False
        else:
            self.last_id = wire["id"]
        await self._send(from_wire(wire, rel))

    async def _send(self, event: AlisEvent) -> None:
        if self.protocol == "v1.alis":
            await self.send(bytes_data=encode_event(event))
            return
        for line in self.converter.feed(event):
            await self.send(text_data=line + "\n")

    async def viewer_gone(self, message: dict[str, Any]) -> None:
        await self.close(code=4000)

    async def disconnect(self, code: int) -> None:
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)
