"""The embedded mode's broker: kombu's filesystem transport, with every message written atomically.

kombu's filesystem transport creates a message file, then locks it and writes
the payload. Its poller (every 10 ms here) does not honour the lock: it can
move the file away while it is still empty, fail to decode it and drop it. A
job start sent at that moment never reached the worker until the reconciler
sent it again half a minute later. Here a message is written under a name the
poller skips and then renamed into place, which is atomic on one filesystem.

The poller also wakes at once for a message written by its own process: the
embedded worker runs in the web process, so a job start no longer waits up to
a poll interval. Messages from other processes (manage.py) are still found by
the poll.
"""

from __future__ import annotations

import os
import threading
import uuid
from queue import Empty
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

# The poller takes only names ending in ".<queue>.msg"; a partial file ends otherwise.
PARTIAL_SUFFIX = ".part"
# Set when this process has written a message; its poller stops waiting.
_written_here = threading.Event()


class Channel(filesystem.Channel):
    # (kombu names this argument "message" in the base class and "payload" here)
    def _put(self, queue: Any, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = final + PARTIAL_SUFFIX
        try:
            with open(partial, "wb") as file:
                file.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc
        _written_here.set()


class Transport(filesystem.Transport):
    Channel = Channel

    @property
    def default_connection_params(self) -> dict[str, Any]:
        # A folder has no host: kombu's default ("localhost") only made it warn
        # "No hostname was supplied" at every connection.
        return {}

    # (the signature of kombu's virtual transport, which its base class types differently)
    def drain_events(self, connection: Any, timeout: float | None = None) -> None:  # type: ignore[override]
        """kombu's loop, but the pause between empty polls ends when this process writes."""
        assert self.cycle is not None  # set up with the transport's first channel
        started = monotonic()
        while True:
            _written_here.clear()  # before the poll: a message written after it wakes us
            try:
                self.cycle.get(self._deliver, timeout=timeout)
                return
            except Empty:
                waited = monotonic() - started
                if timeout is not None and waited >= timeout:
                    raise TimeoutError() from None  # what kombu's loop raises (socket.timeout)
                pause = self.polling_interval or 0.0
                if timeout is not None:
                    pause = min(pause, timeout - waited)
                _written_here.wait(pause)
