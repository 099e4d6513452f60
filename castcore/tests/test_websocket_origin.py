"""Browser sockets must come from our own origin; the CLI's producer socket has none.

Refusals, a bad Origin included, complete the handshake and close with a code
(4401/4403/4404), through the real ASGI application.
"""

from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connections
from rest_framework_simplejwt.tokens import AccessToken

from apps.accounts.roles import Role
from apps.accounts.tests.factories import UserFactory
from apps.media.models import StorageSource
from apps.recordings.tests.factories import a_stream
from castcore.asgi import application
from castcore.tests.websockets import refusal_code

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

OWN_ORIGIN = [(b"origin", b"http://localhost"), (b"host", b"localhost")]


@pytest.fixture(autouse=True)
def _close_thread_connections() -> Any:
    yield
    connections.close_all()


async def signed_in(role: Role) -> str:
    user: Any = await sync_to_async(UserFactory)(role=role)
    return str(AccessToken.for_user(user))


def socket(
    path: str, token: str | None = None, headers: list[tuple[bytes, bytes]] | None = None
) -> WebsocketCommunicator:
    headers = list(OWN_ORIGIN if headers is None else headers)
    if token is not None:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    return WebsocketCommunicator(application, path, headers=headers)


async def test_a_producer_without_an_origin_header_is_accepted() -> None:
    stream = await sync_to_async(a_stream)()
    producer = WebsocketCommunicator(
        application,
        f"/ws/S/{stream.producer_token}",
        headers=[(b"host", b"localhost")],
        subprotocols=["v1.alis"],
    )
    connected, _ = await producer.connect()
    assert connected
    await producer.disconnect()


async def test_a_socket_from_a_foreign_origin_is_closed_with_4403() -> None:
    token = await signed_in(Role.ADMIN)
    foreign = [(b"origin", b"https://evil.example"), (b"host", b"localhost")]
    assert await refusal_code(socket("/api/v1/ws/system", token, foreign)) == 4403


async def test_a_socket_without_an_origin_is_closed_with_4403() -> None:
    token = await signed_in(Role.ADMIN)
    assert await refusal_code(socket("/api/v1/ws/status", token, [(b"host", b"h")])) == 4403


@pytest.mark.parametrize(
    "path",
    ["/api/v1/ws/system", "/api/v1/ws/status", "/api/v1/ws/logs/1", "/api/v1/ws/scans/1"],
)
async def test_a_socket_without_credentials_is_closed_with_4401(path: str) -> None:
    assert await refusal_code(socket(path)) == 4401


async def test_a_socket_with_a_bad_token_is_closed_with_4401() -> None:
    assert await refusal_code(socket("/api/v1/ws/status", "not-a-jwt")) == 4401


async def test_a_socket_the_role_does_not_allow_is_closed_with_4403() -> None:
    source = await sync_to_async(StorageSource.objects.create)(name="s", kind="local", path="/srv")
    token = await signed_in(Role.VIEWER)
    path = f"/api/v1/ws/storage-sources/{source.pk}/scans"
    assert await refusal_code(socket(path, token)) == 4403


@pytest.mark.parametrize(
    "path", ["/api/v1/ws/scans/999", "/api/v1/ws/logs/" + "9" * 40, "/api/v1/ws/nothing", "/x"]
)
async def test_a_socket_for_no_row_or_no_route_is_closed_with_4404(path: str) -> None:
    token = await signed_in(Role.ADMIN)
    assert await refusal_code(socket(path, token)) == 4404


async def test_a_producer_path_is_still_authenticated_by_its_token() -> None:
    producer = WebsocketCommunicator(
        application, "/ws/S/not-a-real-token-xyz", headers=[(b"host", b"localhost")]
    )
    assert await refusal_code(producer) == 4404


async def test_a_refusal_picks_an_offered_subprotocol_so_the_client_sees_the_code() -> None:
    producer = WebsocketCommunicator(
        application,
        "/ws/S/not-a-real-token-xyz",
        headers=[(b"host", b"localhost")],
        subprotocols=["v1.alis", "v2.asciicast"],
    )
    connected, subprotocol = await producer.connect()
    assert connected and subprotocol == "v1.alis"
    assert (await producer.receive_output(timeout=5))["code"] == 4404
    await producer.disconnect()
