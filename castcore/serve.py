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
import logging
import os
import re
import signal
import socket
import subprocess
import sys
from datetime import datetime
from typing import Any

import daphne.cli
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
# (/connect/<install-id>) are authenticated by the URL itself.
_CREDENTIAL_PARAMS = re.compile(r"(?i)([?&](?:token|access_token|ticket|key|password)=)([^&\s\"]*)")
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


class FlowControlledServer(Server):
    """daphne, whose `send` of a response body waits while the client is not reading."""

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
