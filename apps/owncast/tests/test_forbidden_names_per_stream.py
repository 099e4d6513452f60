"""Names set through a stream's `/api/admin/config/chat/forbiddenusernames` are refused on
that stream's chat (register, rename, on the Owncast and the native socket), besides the
instance's list, and on that stream only."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.test import Client

from apps.chat.models import ChatIdentity
from apps.chat.tests.helpers import ChatClient
from apps.owncast.tests.admin_client import Admin, basic
from apps.owncast.tests.helpers import OwncastSocket, register

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


@pytest.fixture
def red_forbids_rex(streams: dict[str, Any]) -> dict[str, Any]:
    red = Admin("red", basic(streams["red_key"]))
    assert red.set("chat/forbiddenusernames", ["Rex", "moderator-bot"]).json()["success"]
    return streams


async def test_a_register_takes_the_name_on_another_stream_only(
    red_forbids_rex: dict[str, Any],
) -> None:
    on_red = await sync_to_async(register)("/owncast/red", "rex")  # any case
    assert on_red["displayName"] != "rex"  # a generated name, as for any name chat refuses
    on_blue = await sync_to_async(register)("/owncast/blue", "rex")
    assert on_blue["displayName"] == "rex"
    # The native register of each stream applies the same rule.
    refused = await sync_to_async(_native_register)(red_forbids_rex["red"], "REX")
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "chat.name_forbidden"
    taken = await sync_to_async(_native_register)(red_forbids_rex["blue"], "REX")
    assert taken.status_code == 201 and taken.json()["user"]["display_name"] == "REX"


def _native_register(stream: Any, name: str) -> Any:
    url = f"/api/v1/live-streams/{stream.pk}/chat/register"
    return Client().post(url, {"display_name": name}, content_type="application/json")


async def test_a_rename_is_refused_on_that_stream_and_allowed_on_another(
    red_forbids_rex: dict[str, Any],
) -> None:
    alice = await sync_to_async(register)("/owncast/red", "alice")
    red = await OwncastSocket(f"/owncast/red/ws?accessToken={alice['accessToken']}").connect()
    blue = await OwncastSocket(f"/owncast/blue/ws?accessToken={alice['accessToken']}").connect()
    try:
        await red.send({"type": "NAME_CHANGE", "newName": "Moderator-Bot"})
        error = await red.receive("ERROR")
        assert error["error"]["code"] == "chat.name_forbidden"
        identity = await sync_to_async(ChatIdentity.objects.get)(pk=int(alice["id"]))
        assert identity.display_name == "alice"
        await blue.send({"type": "NAME_CHANGE", "newName": "Moderator-Bot"})
        change = await blue.receive("NAME_CHANGE")
        assert change["newName"] == "Moderator-Bot"
    finally:
        await red.disconnect()
        await blue.disconnect()


async def test_the_instance_list_still_holds_on_every_stream(
    red_forbids_rex: dict[str, Any],
) -> None:
    bob = await sync_to_async(register)("/owncast/blue", "bob")
    blue = await ChatClient(red_forbids_rex["blue"], chat_token=bob["accessToken"]).connect()
    try:
        await blue.send({"type": "NAME_CHANGE", "newName": "admin"})
        assert (await blue.receive("ERROR"))["error"]["code"] == "chat.name_forbidden"
    finally:
        await blue.disconnect()
