"""/api/integrations/*: Bearer tokens with Owncast's scopes, over the chat and stream services."""

from __future__ import annotations

from typing import Any

import pytest

from apps.accounts.models import AuditEntry
from apps.chat import conf as chat_conf
from apps.chat.models import ChatBan, ChatMessage, MessageKind
from apps.chat.ratelimit import Window
from apps.chat.services import identity_register, message_send
from apps.integrations.models import Scope
from apps.integrations.tokens import integration_token_create, integration_token_revoke
from apps.owncast.auth import (
    CAN_SEND_MESSAGES,
    CAN_SEND_SYSTEM_MESSAGES,
    HAS_ADMIN_ACCESS,
    castcore_scopes,
    owncast_scopes,
)
from apps.owncast.services import token_bind
from apps.owncast.tests.helpers import call, issue_token

pytestmark = pytest.mark.django_db

ALL = [CAN_SEND_MESSAGES, CAN_SEND_SYSTEM_MESSAGES, HAS_ADMIN_ACCESS]
BASE = "/owncast/red/api/integrations"


def test_owncast_scopes_map_onto_castcores_both_ways() -> None:
    assert castcore_scopes([HAS_ADMIN_ACCESS]) == sorted([Scope.STREAM_ADMIN, Scope.MODERATE])
    assert castcore_scopes([CAN_SEND_MESSAGES]) == [Scope.CHAT_SEND]
    assert owncast_scopes(castcore_scopes(ALL)) == ALL
    assert owncast_scopes([Scope.CHAT_SYSTEM, Scope.READ]) == [CAN_SEND_SYSTEM_MESSAGES]
    with pytest.raises(ValueError, match="CAN_FLY"):
        castcore_scopes(["CAN_FLY"])


def test_system_message_is_stored_and_audited(streams: dict[str, Any]) -> None:
    raw = issue_token([CAN_SEND_SYSTEM_MESSAGES], name="announcer").raw
    response = call("POST", f"{BASE}/chat/system", raw, {"body": "Starting *soon*"})
    assert response.status_code == 200
    assert response.json() == {"success": True, "message": "sent"}
    assert response["Access-Control-Allow-Origin"] == "*"
    message = ChatMessage.objects.get(stream=streams["red"])
    assert (message.kind, message.body) == (MessageKind.SYSTEM, "Starting *soon*")
    entry = AuditEntry.objects.get(action="chat.system_message")
    assert entry.actor is None and entry.actor_repr == "integration:announcer"
    assert raw not in str(entry.changes)


def test_chat_send_writes_as_the_tokens_bot(streams: dict[str, Any]) -> None:
    raw = issue_token([CAN_SEND_MESSAGES], name="dicebot").raw
    for body in ("one", "two"):
        assert call("POST", f"{BASE}/chat/send", raw, {"body": body}).status_code == 200
    messages = list(ChatMessage.objects.filter(stream=streams["red"]).order_by("id"))
    assert [m.body for m in messages] == ["one", "two"]
    assert {m.author_name for m in messages} == {"dicebot"}
    assert messages[0].author_id == messages[1].author_id  # one bot identity per token


def test_the_bot_is_the_tokens_own_on_both_apis(streams: dict[str, Any]) -> None:
    issued = integration_token_create(
        actor=None, name="twobot", scopes=[Scope.CHAT_SEND, Scope.READ]
    )
    native = f"/api/v1/live-streams/{streams['red'].pk}/chat/send"
    assert call("POST", native, issued.raw, {"body": "native"}).status_code == 201
    assert call("POST", f"{BASE}/chat/send", issued.raw, {"body": "owncast"}).status_code == 200
    issued.token.refresh_from_db()
    authors = set(ChatMessage.objects.values_list("author_id", flat=True))
    assert authors == {issued.token.chat_identity_id}


def test_a_user_message_shows_the_given_name_and_refuses_a_forbidden_one(
    streams: dict[str, Any],
) -> None:
    raw = issue_token([CAN_SEND_MESSAGES], name="relay").raw
    sent = call("POST", f"{BASE}/chat/user", raw, {"user": "Twitch viewer", "body": "hey"})
    assert sent.status_code == 200 and sent.json() == {"success": True, "message": "sent"}
    message = ChatMessage.objects.get()
    assert (message.author_name, message.body) == ("Twitch viewer", "hey")
    assert message.author is not None and message.author.display_name == "relay"  # its bot
    refused = call("POST", f"{BASE}/chat/user", raw, {"user": "admin", "body": "trust me"})
    assert refused.status_code == 400 and refused.json()["message"] == "chat.name_forbidden"
    assert ChatMessage.objects.count() == 1


def test_chat_send_is_rate_limited_by_the_chat_app(
    streams: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # An hour's window: it does not turn mid-test on a loaded machine.
    monkeypatch.setattr(chat_conf, "IDENTITY_BURST", Window(3, 3600))
    raw = issue_token([CAN_SEND_MESSAGES]).raw
    statuses = [
        call("POST", f"{BASE}/chat/send", raw, {"body": f"m{n}"}).status_code for n in range(5)
    ]
    assert statuses == [200, 200, 200, 429, 429]
    refused = call("POST", f"{BASE}/chat/send", raw, {"body": "again"})
    assert refused.json()["success"] is False and refused.json()["message"] == "chat.rate_limited"
    assert refused.json()["params"]["retry_after"] > 0
    assert ChatMessage.objects.count() == 3


def test_an_empty_body_is_refused_in_owncasts_shape(streams: dict[str, Any]) -> None:
    raw = issue_token(ALL).raw
    for path in ("chat/send", "chat/system", "chat/action"):
        response = call("POST", f"{BASE}/{path}", raw, {"body": "  "})
        assert response.status_code == 400
        assert response.json()["success"] is False
    assert not ChatMessage.objects.exists()


def test_stream_title_sets_the_live_streams_title(streams: dict[str, Any]) -> None:
    raw = issue_token([HAS_ADMIN_ACCESS]).raw
    response = call("POST", f"{BASE}/streamtitle", raw, {"value": "Desert Bus"})
    assert response.status_code == 200 and response.json()["success"] is True
    streams["red"].refresh_from_db()
    assert streams["red"].title == "Desert Bus"
    assert call("GET", "/owncast/red/api/status").json()["streamTitle"] == "Desert Bus"
    too_long = call("POST", f"{BASE}/streamtitle", raw, {"value": "x" * 201})
    assert too_long.status_code == 400 and too_long.json()["success"] is False


def test_message_visibility_at_both_paths(streams: dict[str, Any]) -> None:
    identity, _ = identity_register(display_name="alice")
    message = message_send(stream=streams["red"], identity=identity, body="hi", address=None)
    raw = issue_token([HAS_ADMIN_ACCESS]).raw
    hide = {"idArray": [str(message.pk)], "visible": False}
    assert call("POST", f"{BASE}/chat/messagevisibility", raw, hide).status_code == 200
    message.refresh_from_db()
    assert message.visible is False and message.hidden_by is None
    show = {"idArray": [str(message.pk)], "visible": True}
    assert call("POST", f"{BASE}/chat/updatemessagevisibility", raw, show).status_code == 200
    message.refresh_from_db()
    assert message.visible is True
    bad = call("POST", f"{BASE}/chat/messagevisibility", raw, {"idArray": ["x"], "visible": 1})
    assert bad.status_code == 400 and bad.json()["success"] is False


def test_user_disable_bans_and_hides_then_enable_lifts(streams: dict[str, Any]) -> None:
    identity, _ = identity_register(display_name="troll")
    message = message_send(stream=streams["red"], identity=identity, body="spam", address=None)
    raw = issue_token([HAS_ADMIN_ACCESS]).raw
    off = {"userId": str(identity.pk), "enabled": False}
    assert call("POST", f"{BASE}/chat/users/setenabled", raw, off).status_code == 200
    assert ChatBan.objects.filter(ChatBan.active_q(), identity=identity).count() == 1
    message.refresh_from_db()
    assert message.visible is False
    on = {"userId": str(identity.pk), "enabled": True}
    assert call("POST", f"{BASE}/chat/users/setenabled", raw, on).status_code == 200
    assert not ChatBan.objects.filter(ChatBan.active_q(), identity=identity).exists()


def test_chat_history_lists_visible_messages_with_string_ids(streams: dict[str, Any]) -> None:
    identity, _ = identity_register(display_name="alice")
    kept = message_send(stream=streams["red"], identity=identity, body="kept", address=None)
    message_send(stream=streams["blue"], identity=identity, body="elsewhere", address=None)
    raw = issue_token([HAS_ADMIN_ACCESS]).raw
    history = call("GET", f"{BASE}/chat", raw).json()
    assert [(m["id"], m["type"], m["body"]) for m in history] == [(str(kept.pk), "CHAT", "kept")]
    assert history[0]["user"]["id"] == str(identity.pk)
    assert history[0]["user"]["displayName"] == "alice"


def test_clients_is_empty_without_sockets(streams: dict[str, Any]) -> None:
    raw = issue_token([HAS_ADMIN_ACCESS]).raw
    assert call("GET", f"{BASE}/clients", raw).json() == []


def test_system_message_to_a_client_that_is_not_connected_is_a_500_error(
    streams: dict[str, Any],
) -> None:
    raw = issue_token([CAN_SEND_SYSTEM_MESSAGES]).raw
    for client_id in ("12345", "nope", "9" * 30):
        response = call("POST", f"{BASE}/chat/system/client/{client_id}", raw, {"body": "hi"})
        assert response.status_code == 500 and "error" in response.json()


SCOPED = [
    ("POST", "streamtitle", HAS_ADMIN_ACCESS, {"value": "t"}),
    ("POST", "chat/send", CAN_SEND_MESSAGES, {"body": "b"}),
    ("POST", "chat/user", CAN_SEND_MESSAGES, {"user": "u", "body": "b"}),
    ("POST", "chat/system", CAN_SEND_SYSTEM_MESSAGES, {"body": "b"}),
    ("POST", "chat/system/client/1", CAN_SEND_SYSTEM_MESSAGES, {"body": "b"}),
    ("POST", "chat/action", CAN_SEND_SYSTEM_MESSAGES, {"body": "b"}),
    ("POST", "chat/messagevisibility", HAS_ADMIN_ACCESS, {"idArray": [], "visible": False}),
    ("POST", "chat/updatemessagevisibility", HAS_ADMIN_ACCESS, {"idArray": [], "visible": True}),
    ("POST", "chat/users/setenabled", HAS_ADMIN_ACCESS, {"userId": "1", "enabled": True}),
    ("GET", "clients", HAS_ADMIN_ACCESS, None),
    ("GET", "chat", HAS_ADMIN_ACCESS, None),
]


@pytest.mark.parametrize(("method", "path", "scope", "body"), SCOPED)
def test_a_token_without_the_scope_gets_owncasts_401(
    streams: dict[str, Any], method: str, path: str, scope: str, body: Any
) -> None:
    others = [name for name in ALL if name != scope]
    raw = issue_token(others).raw
    response = call(method, f"{BASE}/{path}", raw, body)
    assert response.status_code == 401
    assert response.content == b"unauthorized"
    for bad in (None, "cci_not-a-token", "invalidToken"):
        assert call(method, f"{BASE}/{path}", bad, body).status_code == 401
    assert not ChatMessage.objects.exists()


@pytest.mark.parametrize(("method", "path", "scope", "body"), SCOPED)
def test_cors_preflight_is_answered_without_a_token(
    streams: dict[str, Any], method: str, path: str, scope: str, body: Any
) -> None:
    response = call("OPTIONS", f"{BASE}/{path}")
    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == "*"


def test_a_revoked_token_is_refused(streams: dict[str, Any]) -> None:
    issued = issue_token(ALL)
    integration_token_revoke(actor=None, token=issued.token)
    assert call("GET", f"{BASE}/chat", issued.raw).status_code == 401


def test_a_token_bound_to_one_stream_is_refused_on_anothers_base(
    streams: dict[str, Any],
) -> None:
    issued = issue_token(ALL)
    token_bind(token=issued.token, stream=streams["blue"])
    assert call("GET", f"{BASE}/chat", issued.raw).status_code == 401
    assert call("GET", "/owncast/blue/api/integrations/chat", issued.raw).status_code == 200
    # An unbound token (CastCore's own, made without Owncast) works on every base.
    native = integration_token_create(actor=None, name="n", scopes=[Scope.STREAM_ADMIN])
    assert call("GET", f"{BASE}/chat", native.raw).status_code == 200
    assert call("GET", "/owncast/blue/api/integrations/chat", native.raw).status_code == 200


def test_a_bound_token_works_nowhere_once_its_stream_is_gone(streams: dict[str, Any]) -> None:
    from apps.streams.live.services import live_stream_delete

    issued = issue_token(ALL)
    token_bind(token=issued.token, stream=streams["blue"])
    live_stream_delete(actor=None, stream=streams["blue"])
    assert call("GET", f"{BASE}/chat", issued.raw).status_code == 401


def test_a_valid_token_on_an_unknown_base_is_owncasts_404(streams: dict[str, Any]) -> None:
    raw = issue_token(ALL).raw
    response = call("GET", "/owncast/nope/api/integrations/chat", raw)
    assert response.status_code == 404 and response.content == b"404 page not found\n"
