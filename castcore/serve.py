"""`python -m castcore.serve …`: daphne, with an access log that keeps credentials out.

Browsers cannot set headers on WebSocket and EventSource requests, so those
clients send `?token=…`; daphne's own access log would print it. This entry
point takes daphne's command-line arguments unchanged and swaps in an access
log that masks credential query parameters and every secret CastCore knows.

Responses are flow-controlled (FlowControlledServer): daphne's `send` returns at
once and Twisted buffers whatever it is given, so a recording streamed to a slow
client ended up whole in the web process's memory. Here a response body waits
while the socket's send buffer is full, and a client that takes nothing for
CASTCORE_SEND_TIMEOUT_SECONDS is disconnected (nginx's send_timeout, 60 s there too).

Request bodies are bounded (BoundedBodyRequest): daphne has Twisted read a whole body
before the application sees any of it, Twisted parses multipart and form bodies into
memory itself, and daphne then queues the body to the application all at once; a
50 MiB multipart POST to the login grew the process by 588 MB. Here a body over its
route's limit (castcore/bodies.py; the default one for a request without credentials)
is answered 413 from its declared length, or as soon as it passes the limit; a body
within it is spooled (past 64 KiB to disk, under FILE_UPLOAD_TEMP_DIR) and
handed to the application one chunk each time it asks; multipart is left to Django.

`--processes N` (or CASTCORE_WEB_PROCESSES), distributed mode only: one daphne
runs on one core, and a burst of live events for hundreds of sockets keeps
that core busy. With N, this process binds `-b`/`-p` itself and runs N daphne
processes on the one listening socket (the kernel hands each new connection to
one of them). They share everything through PostgreSQL and Redis. If one of
them exits, the others are stopped and this process exits with its code, for
the service manager to restart; they die with this process, even on SIGKILL.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import io
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
from datetime import datetime
from typing import Any, BinaryIO
from urllib.parse import unquote

import daphne.cli
import daphne.http_protocol
from daphne.access import AccessLogGenerator
from daphne.http_protocol import WebRequest
from daphne.server import Server
from twisted.internet.interfaces import IPushProducer
from zope.interface import implementer

from castcore.env import env_float
from castcore.secrets import mask
from workers.ffmpeg.supervisor import die_with_parent

logger = logging.getLogger(__name__)

# Query parameters, and path segments, that carry credentials in CastCore URLs:
# the asciinema producer socket (/ws/S/<token>) and the CLI link page
# (/connect/<install-id>) are authenticated by the URL itself; Owncast's chat clients send
# `?accessToken=`.
_CREDENTIAL_PARAMS = re.compile(
    r"(?i)([?&](?:token|access_token|accesstoken|ticket|key|password)=)([^&\s\"]*)"
)
_CREDENTIAL_SEGMENTS = re.compile(r"(/(?:ws/S|connect)/)([^/?\s\"]+)")


def redact_request_line(line: str) -> str:
    line = _CREDENTIAL_PARAMS.sub(lambda m: m.group(1) + mask(m.group(2)), line)
    return _CREDENTIAL_SEGMENTS.sub(lambda m: m.group(1) + mask(m.group(2)), line)


class RedactingAccessLog(AccessLogGenerator):
    def write_entry(
        self,
        host: Any,
        date: datetime,
        request: str,
        status: Any = None,
        length: Any = None,
        ident: Any = None,
        user: Any = None,
    ) -> None:
        from castcore.secrets import redact

        super().write_entry(
            host, date, redact(redact_request_line(request)), status, length, ident, user
        )


@implementer(IPushProducer)
class _SendWindow:
    """Registered with one HTTP response: Twisted pauses it while the socket cannot take more."""

    def __init__(self) -> None:
        self.open = asyncio.Event()
        self.open.set()

    def pauseProducing(self) -> None:
        self.open.clear()

    def resumeProducing(self) -> None:
        self.open.set()

    def stopProducing(self) -> None:
        self.open.set()  # the connection is going: daphne drops what is sent from now on


# A body up to this size stays in memory; a larger or chunked one is spooled to disk.
_SPOOL_IN_MEMORY_BELOW = 64 * 1024
# What the application gets per `receive()` of a spooled body.
_BODY_CHUNK = 64 * 1024
# After a 413, what the client still sends is read and dropped for up to this long, so
# that it can finish sending and read the answer (closing on unread data resets the
# connection, and the client may lose the answer); as nginx's lingering_time.
_LINGER_SECONDS = 30.0


class SpooledBody:
    """A request body received whole, read by the application a chunk at a time."""

    def __init__(self, file: BinaryIO, size: int) -> None:
        self.file = file
        self.left = size

    def next_message(self) -> dict[str, Any]:
        if self.file.closed:  # the connection is gone
            return {"type": "http.disconnect"}
        chunk = self.file.read(min(_BODY_CHUNK, self.left))
        self.left = 0 if not chunk else self.left - len(chunk)
        if self.left == 0:
            self.file.close()
        return {"type": "http.request", "body": chunk, "more_body": self.left > 0}

    def close(self) -> None:
        self.file.close()


class _BodyFromSpoolQueue(asyncio.Queue):
    """An application's input queue that serves a spooled body lazily.

    daphne queues the whole body as messages before the application has read any;
    here the request's one (empty) body message stands for the spooled body, read
    from it a chunk per `get()`, so one chunk at a time is in memory.
    """

    def __init__(self, body: SpooledBody | None) -> None:
        super().__init__()
        self.body = body
        self.reading = False

    async def get(self) -> Any:
        if self.reading and self.body is not None:
            return self._next_chunk(self.body)
        message = await super().get()
        if self.body is not None and message.get("type") == "http.request":
            self.reading = True
            return self._next_chunk(self.body)
        return message

    def _next_chunk(self, body: SpooledBody) -> dict[str, Any]:
        message = body.next_message()
        if not message.get("more_body"):
            self.body = None
        return message


class BoundedBodyRequest(WebRequest):
    """daphne's request: bounded body, spooled, not parsed here (see the module's docstring)."""

    def __init__(self, channel: Any, *args: Any, **kwargs: Any) -> None:
        self.body_limit = 0
        self.body_received = 0
        self.refused = False
        self.path_for_log = b"/"
        self.body_path = ""
        self.spooled_body: SpooledBody | None = None
        # Twisted would parse multipart and form bodies into memory; Django parses them.
        kwargs["parsePOSTFormSubmission"] = False
        super().__init__(channel, *args, **kwargs)

    def gotLength(self, length: int | None) -> None:
        from castcore.bodies import default_limit, limit_for, spool_dir

        # Twisted sets self.path once the body is in; the request line's target is
        # on the channel (HTTP/1.1 only: daphne serves no HTTP/2 here). The headers
        # are all in: whether the request carries credentials picks the limit too.
        target: bytes = getattr(self.channel, "_path", b"/")
        self.path_for_log = target
        headers = [
            (name, value)
            for name, values in self.requestHeaders.getAllRawHeaders()
            for value in values
        ]
        self.body_path = unquote(target.split(b"?", 1)[0].decode("ascii", "replace"))
        try:
            self.body_limit = limit_for(self.body_path, headers)
        except Exception:
            # Twisted would drop the error and leave the client waiting.
            logger.exception("no body limit for %r; the default applies", target)
            self.body_limit = default_limit()
        if length is not None and length > self.body_limit:
            self.content = io.BytesIO()
            self.refuse()
            return
        small = length is not None and length < _SPOOL_IN_MEMORY_BELOW
        # Closed with the request (Twisted), or once the application has read it.
        content: Any = io.BytesIO() if small else tempfile.TemporaryFile(dir=spool_dir())  # noqa: SIM115
        self.content = content

    def handleContentChunk(self, data: bytes) -> None:
        if self.refused:
            return
        self.body_received += len(data)
        if self.body_received > self.body_limit:  # a chunked body
            self.refuse()
            return
        self.content.write(data)

    def requestReceived(self, command: bytes, path: bytes, version: bytes) -> None:
        if not self.refused:
            super().requestReceived(command, path, version)

    def process(self) -> Any:
        # The whole body is in self.content; the application reads it from the spool
        # (see _BodyFromSpoolQueue) and daphne queues an empty body in its place.
        body, self.content = self.content, io.BytesIO()
        if self.body_received:
            self.spooled_body = SpooledBody(body, self.body_received)
            # A chunked body is whole now: the application sees its length, as Django
            # parses no body without one.
            if self.requestHeaders.hasHeader(b"transfer-encoding"):
                self.requestHeaders.removeHeader(b"transfer-encoding")
                self.requestHeaders.setRawHeaders(
                    b"content-length", [str(self.body_received).encode()]
                )
        else:
            body.close()
        return super().process()

    def connectionLost(self, reason: Any) -> None:
        if self.spooled_body is not None:
            self.spooled_body.close()
        super().connectionLost(reason)

    def refuse(self) -> None:
        """Answer 413 with the error envelope, and drop the rest of the body unread."""
        from castcore.bodies import too_large_body

        self.refused = True
        self.content.close()
        # Twisted answers `Expect: 100-continue` once the headers are in: not after a 413.
        self.requestHeaders.removeHeader(b"expect")
        try:
            body = too_large_body(self.body_limit, self.body_path)
        except Exception:  # an application that is not CastCore's (Django not set up)
            logger.exception("no error envelope for a 413")
            body = b""
        head = (
            b"HTTP/1.1 413 Content Too Large\r\n"
            b"Content-Type: application/json\r\n"
            b"Content-Length: %d\r\n"
            b"Connection: close\r\n\r\n" % len(body)
        )
        channel = self.channel
        transport = channel.transport
        transport.write(head + body)

        def drop(data: bytes) -> None:
            return None

        # As Twisted does for a connection it will not read from again.
        channel.dataReceived = channel.rawDataReceived = channel.lineReceived = drop
        asyncio.get_running_loop().call_later(_LINGER_SECONDS, transport.loseConnection)
        client = getattr(self.client, "host", None)
        self.server.log_action(
            "http",
            "complete",
            {
                "path": self.path_for_log.decode("ascii", "replace"),
                "status": 413,
                "method": getattr(channel, "_command", b"-").decode("ascii", "replace"),
                "client": f"{client}:{self.client.port}" if client else None,
                "time_taken": 0,
                "size": len(body),
            },
        )


class FlowControlledServer(Server):
    """daphne, whose `send` of a response body waits while the client is not reading."""

    def create_application(self, protocol: Any, scope: dict[str, Any]) -> Any:
        """daphne's, with an input queue that reads a spooled body as the application asks."""
        assert "application_instance" not in self.connections[protocol]
        queue = _BodyFromSpoolQueue(getattr(protocol, "spooled_body", None))
        scope.setdefault("asgi", {"version": "3.0"})
        instance = self.application(
            scope=scope, receive=queue.get, send=functools.partial(self.handle_reply, protocol)
        )
        if protocol not in self.connections:
            return None
        self.connections[protocol]["application_instance"] = asyncio.ensure_future(instance)
        return queue

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.send_timeout = env_float("CASTCORE_SEND_TIMEOUT_SECONDS", 60.0, minimum=1.0)

    def listen_success(self, port: Any) -> None:
        super().listen_success(port)
        # daphne's own "Listening on" line is at INFO on a logger kept at WARNING:
        # an operator who ran `make run` is told where to go, on stdout, once.
        host = port.getHost()
        name = f"[{host.host}]" if ":" in host.host else host.host
        print(f"CastCore is ready on http://{name}:{host.port}/", flush=True)

    async def handle_reply(self, protocol: Any, message: dict[str, Any]) -> None:
        streaming = isinstance(protocol, WebRequest) and message.get("type") == "http.response.body"
        # A response already over, or its connection lost (Twisted drops the channel):
        # daphne ignores what is sent, and there is nothing to register or let go of.
        if not streaming or protocol.finished or protocol.channel is None:
            await super().handle_reply(protocol, message)
            return
        window: _SendWindow | None = getattr(protocol, "_castcore_window", None)
        more = bool(message.get("more_body", False))
        if more and window is None:
            window = protocol._castcore_window = _SendWindow()
            protocol.registerProducer(window, True)
        elif not more and window is not None and protocol.producer is window:
            # Before daphne finishes the response: a keep-alive connection's next response
            # registers its own, and Twisted logs an error for one left registered.
            protocol.unregisterProducer()
        await super().handle_reply(protocol, message)
        if more and window is not None:
            try:
                await asyncio.wait_for(window.open.wait(), self.send_timeout)
            except TimeoutError:
                # Twisted then loses the connection, daphne tells the app, and what the
                # app still sends is dropped.
                logger.info("client %s took nothing for %.0f s; disconnected",
                            protocol.client_addr, self.send_timeout)  # fmt: skip
                if protocol.channel is not None:
                    protocol.channel.transport.abortConnection()


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    processes, daphne_args = _split_processes(args)
    if processes > 1:
        sys.exit(serve_processes(processes, daphne_args))
    # daphne.cli builds its access log from this module-level name.
    daphne.cli.AccessLogGenerator = RedactingAccessLog
    # daphne's HTTP factory builds its requests from this module-level name.
    daphne.http_protocol.WebRequest = BoundedBodyRequest
    cli = daphne.cli.CommandLineInterface()
    cli.server_class = FlowControlledServer
    cli.run(daphne_args)


def _split_processes(args: list[str]) -> tuple[int, list[str]]:
    """(--processes, the arguments for daphne)."""
    from castcore.env import env_int

    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument(
        "--processes", type=int, default=env_int("CASTCORE_WEB_PROCESSES", 1, minimum=1)
    )
    ours, rest = parser.parse_known_args(args)
    if ours.processes < 1:
        raise SystemExit("castcore.serve: --processes must be at least 1")
    return ours.processes, rest


def serve_processes(count: int, daphne_args: list[str]) -> int:
    """Run `count` daphne processes on one socket; returns the exit code."""
    from castcore.env import distributed_mode, embedded_worker

    if not distributed_mode() or embedded_worker():
        print(
            f"castcore.serve: --processes {count} needs the distributed mode (REDIS_URL set, "
            "no embedded worker): the processes must share one channel layer, and each would "
            "run a worker and a beat of its own.",
            file=sys.stderr,
        )
        return 2
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument("-b", "--bind", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=8000)
    address, rest = parser.parse_known_args(daphne_args)
    # IPv4: daphne adopts the descriptor as an INET socket.
    listener = socket.create_server((address.bind, address.port), backlog=1024)
    listener.setblocking(False)  # Twisted accepts on it from its event loop
    fd = listener.fileno()
    argv = [sys.executable, "-m", "castcore.serve", "--processes", "1", "--fd", str(fd), *rest]
    die_with_us = functools.partial(die_with_parent, os.getpid())
    children = [
        subprocess.Popen(argv, pass_fds=(fd,), preexec_fn=die_with_us) for _ in range(count)
    ]
    stopping = False

    def stop(signum: int, frame: Any) -> None:
        nonlocal stopping
        stopping = True
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    pid, status = os.wait()  # the first child to end: asked to, or not
    asked = stopping
    code = os.waitstatus_to_exitcode(status)
    stop(signal.SIGTERM, None)
    for child in children:
        if child.pid != pid:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
    if asked:
        return 0
    # A child ended on its own: fail, so the service manager restarts the service.
    return 128 - code if code < 0 else (code or 1)  # killed by signal n: 128 + n


if __name__ == "__main__":
    main()
