"""A live stream end to end through daphne and Redis: the CLI's API call, an ALiS producer
socket, the stream page in headless Chromium with its viewer socket."""

from __future__ import annotations

import json
import time
import urllib.request
import uuid
from typing import Any

import pytest

from apps.accounts.cli_installs import cli_install_claim
from apps.recordings.alis import MAGIC, Init, Output, encode_event
from apps.recordings.models import TerminalStream
from apps.recordings.tests.asgi_server import AsgiServer
from apps.recordings.tests.browser import chromium_page, needs_chromium
from apps.recordings.tests.factories import a_stream, a_user
from apps.recordings.tests.helpers import basic

pytestmark = [pytest.mark.slow, needs_chromium]


def asciinema_api(server: AsgiServer, install_id: str, path: str, body: Any = None) -> Any:
    """A call as the asciinema CLI makes it: HTTP Basic with the install ID."""
    request = urllib.request.Request(  # noqa: S310 (our own http:// server)
        server.url + path,
        data=None if body is None else json.dumps(body).encode(),
        headers={
            "Authorization": basic(install_id),
            "Accept": "application/json",
            "Content-Type": "application/json",
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return json.loads(response.read())


def wait_for_live(server: AsgiServer, install_id: str, stream_id: int, live: bool) -> bool:
    deadline = time.monotonic() + 10
    while True:
        seen = asciinema_api(server, install_id, f"/api/v1/streams/{stream_id}")["live"]
        if seen is live or time.monotonic() > deadline:
            return bool(seen)
        time.sleep(0.1)


def player_shows(page: Any, text: str) -> None:
    page.wait_for_function(
        "text => document.querySelector('#player').innerText.includes(text)", arg=text,
        timeout=15_000,
    )  # fmt: skip


def test_a_live_terminal_stream_plays_in_the_browser_then_goes_offline(
    asgi_server: AsgiServer,
) -> None:
    ws_client = pytest.importorskip("websockets.sync.client")
    install_id = str(uuid.uuid4())
    cli_install_claim(user=a_user(), raw_install_id=install_id)
    stream = asciinema_api(asgi_server, install_id, "/api/v1/streams", {"visibility": "public"})
    assert stream["live"] is False
    producer_url = stream["ws_producer_url"]
    assert producer_url.startswith(f"{asgi_server.ws_url}/ws/S/")
    errors: list[str] = []

    # The CLI sends no Origin header, as here: the producer path must not need one.
    with ws_client.connect(producer_url, subprotocols=["v1.alis"]) as producer:
        assert producer.subprotocol == "v1.alis"
        producer.send(MAGIC)
        producer.send(encode_event(Init(last_id=0, time=0, cols=80, rows=24)))
        producer.send(encode_event(Output(1, 1000, "ready> ")))
        assert wait_for_live(asgi_server, install_id, stream["id"], True) is True

        with chromium_page() as page:
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(stream["url"])
            assert page.inner_text("#live-state") == "Live now"
            # The snapshot came through the viewer socket: it has joined the stream's group.
            player_shows(page, "ready>")

            producer.send(encode_event(Output(2, 300_000, "hello-live-42")))
            player_shows(page, "hello-live-42")

            producer.close()
            assert wait_for_live(asgi_server, install_id, stream["id"], False) is False
            page.reload()
            assert page.inner_text("#live-state").startswith("Offline")

    assert not errors
    row = TerminalStream.objects.get(pk=stream["id"])
    assert (row.live, row.producer_channel) == (False, "")
    token = producer_url.rsplit("/", 1)[1]
    assert token not in asgi_server.log()  # daphne's access log shows ••••last4


def test_a_producer_token_new_to_the_server_stays_out_of_its_access_log(
    asgi_server: AsgiServer,
) -> None:
    ws_client = pytest.importorskip("websockets.sync.client")
    # Created here: the server never decrypted this token, so only castcore.serve's
    # path masking keeps it out of daphne's WSCONNECTING line.
    stream = a_stream()
    url = f"{asgi_server.ws_url}/ws/S/{stream.producer_token}"
    with ws_client.connect(url, subprotocols=["v1.alis"]) as producer:
        producer.send(MAGIC)
    deadline = time.monotonic() + 10
    while "WSDISCONNECT /ws/S/" not in asgi_server.log() and time.monotonic() < deadline:
        time.sleep(0.05)

    assert "WSDISCONNECT /ws/S/" in asgi_server.log()
    assert stream.producer_token not in asgi_server.log()
