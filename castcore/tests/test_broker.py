"""The embedded broker loses no message when its poller reads while a sender writes."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path
from queue import Empty
from typing import Any

import pytest
from kombu import Connection
from kombu.transport import filesystem

from castcore import broker
from castcore.tests.test_run_modes import ROOT


def _options(folder: Path) -> dict[str, Any]:
    for sub in ("queue", "processed"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    return {
        "data_folder_in": str(folder / "queue"),
        "data_folder_out": str(folder / "queue"),
        "processed_folder": str(folder / "processed"),
        "store_processed": False,
    }


def _channel(transport: Any, folder: Path) -> Any:
    connection = Connection("localhost", transport=transport, transport_options=_options(folder))
    return connection.channel()


@pytest.mark.parametrize(
    ("transport", "module"),
    [(broker.Transport, broker), (filesystem.Transport, filesystem)],
    ids=["castcore", "kombu"],
)
def test_a_poll_between_creating_and_writing_a_message(
    transport: Any, module: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sender, poller = _channel(transport, tmp_path), _channel(transport, tmp_path)
    seen_mid_write: list[str] = []
    encode = module.dumps

    def poll_then_encode(payload: Any) -> str:
        # Called once the message file is open and before its bytes are written.
        try:
            seen_mid_write.append(repr(poller._get("jobs")))
        except Empty:
            seen_mid_write.append("nothing")
        except ValueError:
            seen_mid_write.append("an empty file, decoded and dropped")
        return str(encode(payload))

    monkeypatch.setattr(module, "dumps", poll_then_encode)
    sender._put("jobs", {"job": 7})

    if transport is broker.Transport:
        assert seen_mid_write == ["nothing"]
        assert poller._get("jobs") == {"job": 7}
    else:  # why castcore.broker exists: kombu's poller drops the message being written
        assert seen_mid_write == ["an empty file, decoded and dropped"]
        with pytest.raises(Empty):
            poller._get("jobs")


SENDER = """
import sys
from kombu import Connection
from castcore.broker import Transport
folder, count = sys.argv[1], int(sys.argv[2])
options = {"data_folder_in": folder + "/queue", "data_folder_out": folder + "/queue"}
channel = Connection("localhost", transport=Transport, transport_options=options).channel()
for number in range(count):
    channel._put("jobs", {"n": number, "pad": "x" * 2000})
"""


def test_every_message_of_a_sending_process_arrives_whole(tmp_path: Path) -> None:
    count = 2000
    poller = _channel(broker.Transport, tmp_path)
    sender = subprocess.Popen([sys.executable, "-c", SENDER, str(tmp_path), str(count)], cwd=ROOT)
    received: list[int] = []
    try:
        while sender.poll() is None or any((tmp_path / "queue").iterdir()):
            try:
                message = poller._get("jobs")  # a half-written file would raise ValueError
            except Empty:
                continue
            assert message["pad"] == "x" * 2000
            received.append(message["n"])
    finally:
        sender.kill()
        sender.wait()
    assert sender.returncode == 0
    # (order within one millisecond is not kept: kombu names files by ms, then a uuid)
    assert sorted(received) == list(range(count))


def test_a_message_written_in_this_process_wakes_its_poller(tmp_path: Path) -> None:
    # The embedded worker lives in the web process: a start must not wait for the poll.
    options = {**_options(tmp_path), "polling_interval": 5.0}
    arrived: list[tuple[float, Any]] = []

    def consume() -> None:
        with Connection("localhost", transport=broker.Transport, transport_options=options) as c:
            message = c.SimpleQueue("jobs").get(block=True, timeout=20)
            arrived.append((time.monotonic(), message.payload))
            message.ack()

    consumer = threading.Thread(target=consume)
    consumer.start()
    time.sleep(0.5)  # the consumer has polled once and is in its 5 s pause
    with Connection("localhost", transport=broker.Transport, transport_options=options) as c:
        c.SimpleQueue("jobs").put({"job": 7})
        sent = time.monotonic()
    consumer.join(timeout=20)
    assert arrived and arrived[0][1] == {"job": 7}
    assert arrived[0][0] - sent < 1.0
