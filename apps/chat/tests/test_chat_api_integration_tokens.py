"""The chat REST endpoints take integration access tokens (`Bearer cci_…`), each scope on its
own endpoints only: chat.send sends, chat.system sends system messages, chat.moderate
moderates, read reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from apps.chat import services
from apps.chat.models import ChatBan, ChatIdentity, ChatMessage, MessageKind
from apps.chat.tests.factories import ChatIdentityFactory, LiveStreamFactory
from apps.integrations.models import IntegrationToken, Scope
from apps.integrations.tokens import integration_token_create, integration_token_revoke
from apps.streams.models import LiveVisibility

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Call:
    name: str
    method: str
    path: str  # under /api/v1/live-streams/<id>/chat, {identity} and {message} filled in
    body: dict[str, Any] | None
    scope: str
    status: int


CALLS = [
    Call("send", "post", "/send", {"body": "hello from a bot"}, Scope.CHAT_SEND, 201),
    Call("system", "post", "/messages", {"body": "we start at 8"}, Scope.CHAT_SYSTEM, 201),
    Call("hide", "post", "/messages/visibility", {"ids": ["{message}"], "visible": False},
         Scope.MODERATE, 200),
    Call("timeout", "post", "/identities/{identity}/ban",
         {"kind": "timeout", "duration_seconds": 60}, Scope.MODERATE, 201),
    Call("bans", "get", "/bans", None, Scope.MODERATE, 200),
    Call("identities", "get", "/identities", None, Scope.MODERATE, 200),
    Call("settings", "patch", "/settings", {"slow_mode_seconds": 5}, Scope.MODERATE, 200),
    Call("messages", "get", "/messages", None, Scope.READ, 200),
    Call("read settings", "get", "/settings", None, Scope.READ, 200),
    Call("moderators", "get", "/moderators", None, Scope.READ, 200),
]  # fmt: skip


@pytest.fixture
def stream() -> Any:
    return LiveStreamFactory()


@pytest.fixture
def viewer_identity() -> Any:
    return ChatIdentityFactory()


def _token(admin_user: Any, *scopes: str, **fields: Any) -> tuple[IntegrationToken, APIClient]:
    issued = integration_token_create(
        actor=admin_user, name="Stream bot", scopes=list(scopes), **fields
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.raw}")
    return issued.token, client


def _do(client: APIClient, stream: Any, call: Call, identity: ChatIdentity) -> Any:
    message = services.message_send(stream=stream, identity=identity, body="hi", address=None)
    path = f"/api/v1/live-streams/{stream.pk}/chat{call.path}".format(identity=identity.pk)
    body = call.body
    if body is not None:
        body = {k: ([message.pk] if v == ["{message}"] else v) for k, v in body.items()}
    return getattr(client, call.method)(path, body, format="json")


@pytest.mark.parametrize("call", CALLS, ids=lambda c: c.name)
def test_a_token_with_the_scope_is_accepted(
    admin_user: Any, stream: Any, viewer_identity: ChatIdentity, call: Call
) -> None:
    _, client = _token(admin_user, call.scope)
    response = _do(client, stream, call, viewer_identity)
    assert response.status_code == call.status, response.json()


@pytest.mark.parametrize("call", CALLS, ids=lambda c: c.name)
def test_a_token_with_every_other_scope_is_refused(
    admin_user: Any, stream: Any, viewer_identity: ChatIdentity, call: Call
) -> None:
    others = [s for s in Scope.values if s != call.scope]
    _, client = _token(admin_user, *others)
    before = (ChatMessage.objects.count(), ChatBan.objects.count())
    response = _do(client, stream, call, viewer_identity)
    assert response.status_code == 403
    assert response.json()["error"] == {
        "code": "permission.scope_missing",
        "params": {"scope": call.scope},
        "level": "error",
    }
    assert (ChatMessage.objects.count() - 1, ChatBan.objects.count()) == before


@pytest.mark.parametrize(
    ("method", "path"),
    [("post", "/moderators"), ("delete", "/moderators/1")],
)
def test_no_scope_grants_people_a_role(
    admin_user: Any, stream: Any, method: str, path: str
) -> None:
    _, client = _token(admin_user, *Scope.values)
    url = f"/api/v1/live-streams/{stream.pk}/chat{path}"
    response = getattr(client, method)(url, {"user": admin_user.pk}, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission.scope_missing"


def test_a_bot_writes_under_its_own_name_and_one_identity(admin_user: Any, stream: Any) -> None:
    token, client = _token(admin_user, Scope.CHAT_SEND)
    url = f"/api/v1/live-streams/{stream.pk}/chat/send"
    first = client.post(url, {"body": "one"}, format="json").json()
    second = client.post(url, {"body": "two"}, format="json").json()
    assert first["author_name"] == second["author_name"] == "Stream bot"
    assert first["author"]["id"] == second["author"]["id"]
    assert first["kind"] == MessageKind.CHAT
    token.refresh_from_db()
    assert token.chat_identity_id == first["author"]["id"]


def test_a_system_message_from_a_token_is_a_system_message(admin_user: Any, stream: Any) -> None:
    _, client = _token(admin_user, Scope.CHAT_SYSTEM)
    url = f"/api/v1/live-streams/{stream.pk}/chat/messages"
    body = client.post(url, {"body": "maintenance"}, format="json").json()
    assert (body["kind"], body["author"]) == ("system", None)


def test_the_chats_rules_apply_to_a_bot(admin_user: Any, stream: Any) -> None:
    token, client = _token(admin_user, Scope.CHAT_SEND)
    url = f"/api/v1/live-streams/{stream.pk}/chat/send"
    assert client.post(url, {"body": "first"}, format="json").status_code == 201
    token.refresh_from_db()
    assert token.chat_identity is not None
    services.identity_ban(
        stream=stream, identity=token.chat_identity, kind="ban", duration_seconds=None,
        reason="", hide_messages=False, actor=admin_user,
    )  # fmt: skip
    response = client.post(url, {"body": "again"}, format="json")
    assert response.status_code == 403, response.json()
    assert response.json()["error"]["code"].startswith("chat.")


def test_a_read_token_reads_a_private_streams_chat_but_no_hidden_messages(
    admin_user: Any, viewer_identity: ChatIdentity
) -> None:
    private: Any = LiveStreamFactory(visibility=LiveVisibility.PRIVATE)
    shown = services.message_send(stream=private, identity=viewer_identity, body="a", address=None)
    hidden = services.message_send(stream=private, identity=viewer_identity, body="b", address=None)
    services.messages_set_visibility(
        stream=private, message_ids=[hidden.pk], visible=False, actor=admin_user
    )
    _, reader = _token(admin_user, Scope.READ)
    items = reader.get(f"/api/v1/live-streams/{private.pk}/chat/messages").json()["items"]
    assert [m["id"] for m in items] == [shown.pk]
    _, moderator = _token(admin_user, Scope.READ, Scope.MODERATE)
    items = moderator.get(f"/api/v1/live-streams/{private.pk}/chat/messages").json()["items"]
    assert [m["id"] for m in items] == [shown.pk, hidden.pk]


@pytest.mark.parametrize("state", ["expired", "revoked", "unknown"])
def test_an_expired_revoked_or_unknown_token_is_refused(
    admin_user: Any, stream: Any, state: str
) -> None:
    token, client = _token(admin_user, *Scope.values)
    if state == "expired":
        IntegrationToken.objects.filter(pk=token.pk).update(
            expires_at=timezone.now() - timedelta(seconds=1)
        )
    elif state == "revoked":
        integration_token_revoke(actor=admin_user, token=token)
    else:
        client.credentials(HTTP_AUTHORIZATION="Bearer cci_" + "x" * 43)
    for method, path, body in (
        ("get", "/messages", None),
        ("post", "/send", {"body": "hi"}),
        ("post", "/messages", {"body": "hi"}),
    ):
        url = f"/api/v1/live-streams/{stream.pk}/chat{path}"
        response = getattr(client, method)(url, body, format="json")
        assert response.status_code == 401, (path, response.json())
        assert response.json()["error"]["code"] == "auth.token_invalid"
    assert not ChatMessage.objects.exists()


def test_a_tokens_use_is_recorded(admin_user: Any, stream: Any) -> None:
    token, client = _token(admin_user, Scope.READ)
    assert token.last_used_at is None
    assert client.get(f"/api/v1/live-streams/{stream.pk}/chat/messages").status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None
    assert timezone.now() - token.last_used_at < timedelta(minutes=5)


def test_users_still_use_the_chat_api_as_before(
    operator_api: APIClient, viewer_api: APIClient, operator_user: Any
) -> None:
    stream: Any = LiveStreamFactory(owner=operator_user)
    base = f"/api/v1/live-streams/{stream.pk}/chat"
    assert operator_api.post(f"{base}/messages", {"body": "sys"}, format="json").status_code == 201
    assert viewer_api.post(f"{base}/messages", {"body": "sys"}, format="json").status_code == 403
    sent = viewer_api.post(f"{base}/send", {"body": "hello"}, format="json")
    assert sent.status_code == 201 and sent.json()["author_name"] == "viewer"
    assert APIClient().post(f"{base}/send", {"body": "x"}, format="json").status_code == 401


def test_a_moderating_token_lifts_a_ban_and_the_audit_names_it(
    admin_user: Any, stream: Any, viewer_identity: ChatIdentity
) -> None:
    from apps.accounts.models import AuditEntry

    ban = services.identity_ban(
        stream=stream, identity=viewer_identity, kind="ban", duration_seconds=None,
        reason="", hide_messages=False, actor=admin_user,
    )  # fmt: skip
    _, client = _token(admin_user, Scope.MODERATE)
    url = f"/api/v1/live-streams/{stream.pk}/chat/bans/{ban.pk}"
    assert client.get(url).status_code == 200
    assert client.delete(url).status_code == 204
    ban.refresh_from_db()
    assert ban.lifted_at is not None
    entry = AuditEntry.objects.get(action="chat.ban_lift")
    assert (entry.actor_id, entry.actor_repr) == (None, "integration:Stream bot")
    _, reader = _token(admin_user, Scope.READ)
    assert reader.delete(url).status_code == 403
