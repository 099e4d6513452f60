"""REST under /api/v1/live-streams/<id>/chat/: envelope, pagination, filters, RBAC, audit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.accounts.models import AuditEntry
from apps.accounts.roles import Role
from apps.accounts.tests.factories import UserFactory
from apps.chat import services
from apps.chat.models import ChatBan, ChatIdentity, ChatMessage, ChatModerator
from apps.chat.tests.factories import ChatIdentityFactory, LiveStreamFactory
from apps.streams.models import LiveVisibility

pytestmark = pytest.mark.django_db


def _identity(**fields: Any) -> Any:
    return ChatIdentityFactory(**fields)


def _user(**fields: Any) -> Any:
    return UserFactory(**fields)


def _stream(**fields: Any) -> Any:
    return LiveStreamFactory(**fields)


@pytest.fixture
def stream(operator_user: Any) -> Any:
    # The operator fixtures manage it: operators of a stream are its owner and Admins.
    return _stream(owner=operator_user)


def _say(stream: Any, identity: ChatIdentity, body: str) -> ChatMessage:
    return services.message_send(stream=stream, identity=identity, body=body, address=None)


def _base(stream: Any) -> str:
    return f"/api/v1/live-streams/{stream.pk}/chat"


def test_messages_are_paginated_and_filtered_by_author(viewer_api: APIClient, stream: Any) -> None:
    one, two = _identity(), _identity()
    for n in range(3):
        _say(stream, one, f"one {n}")
        _say(stream, two, f"two {n}")
    response = viewer_api.get(f"{_base(stream)}/messages?limit=2&offset=1")
    assert response.status_code == 200
    body = response.json()
    assert (body["total"], body["limit"], body["offset"]) == (6, 2, 1)
    assert [m["body"] for m in body["items"]] == ["two 0", "one 1"]
    mine = viewer_api.get(f"{_base(stream)}/messages?author={one.pk}").json()
    assert [m["body"] for m in mine["items"]] == ["one 0", "one 1", "one 2"]
    assert mine["items"][0]["author"]["id"] == one.pk
    bad = viewer_api.get(f"{_base(stream)}/messages?author=abc")
    assert bad.status_code == 400 and bad.json()["error"]["code"].startswith("validation.")


def test_hidden_messages_are_listed_for_moderators_only(
    viewer_api: APIClient, operator_api: APIClient, stream: Any
) -> None:
    identity = _identity()
    kept, hidden = _say(stream, identity, "fine"), _say(stream, identity, "rude")
    services.messages_set_visibility(
        stream=stream,
        message_ids=[hidden.pk],
        visible=False,
        actor=operator_api.user,  # type: ignore[attr-defined]
    )
    seen = viewer_api.get(f"{_base(stream)}/messages").json()["items"]
    assert [m["id"] for m in seen] == [kept.pk]
    hidden_only = operator_api.get(f"{_base(stream)}/messages?visible=false").json()["items"]
    assert [(m["id"], m["visible"]) for m in hidden_only] == [(hidden.pk, False)]


def test_a_viewer_who_is_not_a_moderator_cannot_hide(viewer_api: APIClient, stream: Any) -> None:
    message = _say(stream, _identity(), "hello")
    response = viewer_api.post(
        f"{_base(stream)}/messages/visibility", {"ids": [message.pk], "visible": False}
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission.not_moderator"
    message.refresh_from_db()
    assert message.visible


def test_a_viewer_granted_moderator_hides_and_it_is_audited(
    operator_api: APIClient, client_for: Callable[[Any], APIClient], stream: Any
) -> None:
    viewer = _user(role=Role.VIEWER)
    granted = operator_api.post(f"{_base(stream)}/moderators", {"user": viewer.pk})
    assert granted.status_code == 201 and granted.json()["username"] == viewer.username
    message = _say(stream, _identity(), "spam")
    api = client_for(viewer)
    response = api.post(
        f"{_base(stream)}/messages/visibility", {"ids": [message.pk, 999999], "visible": False}
    )
    assert response.status_code == 200 and response.json() == {"changed": [message.pk]}
    message.refresh_from_db()
    assert not message.visible and message.hidden_by == viewer
    entry = AuditEntry.objects.get(action="chat.message_hide")
    assert entry.actor == viewer and entry.changes["message_ids"] == [message.pk]
    assert AuditEntry.objects.filter(action="chat.moderator_grant").count() == 1
    # Moderating one stream is not moderating another.
    other = _stream(owner=operator_api.user)  # type: ignore[attr-defined]
    elsewhere = _say(other, _identity(), "x")
    refused = api.post(
        f"{_base(other)}/messages/visibility", {"ids": [elsewhere.pk], "visible": False}
    )
    assert refused.status_code == 403
    revoked = operator_api.delete(f"{_base(stream)}/moderators/{viewer.pk}")
    assert revoked.status_code == 204
    assert not ChatModerator.objects.filter(stream=stream).exists()


def test_only_operators_grant_moderators_and_send_system_messages(
    viewer_api: APIClient,
    operator_api: APIClient,
    client_for: Callable[[Any], APIClient],
    stream: Any,
) -> None:
    # An Operator who does not manage this stream is not one of its operators.
    stranger = client_for(_user(role=Role.OPERATOR))
    assert stranger.post(f"{_base(stream)}/messages", {"body": "hi"}).status_code == 403
    assert viewer_api.post(f"{_base(stream)}/moderators", {"user": 1}).status_code == 403
    assert viewer_api.post(f"{_base(stream)}/messages", {"body": "hi"}).status_code == 403
    sent = operator_api.post(f"{_base(stream)}/messages", {"body": "Back in **5**"})
    assert sent.status_code == 201
    assert sent.json()["kind"] == "system"
    assert sent.json()["body_html"] == "Back in <strong>5</strong>"
    assert AuditEntry.objects.filter(action="chat.system_message").count() == 1
    too_long = operator_api.post(f"{_base(stream)}/messages", {"body": "x" * 600})
    assert too_long.status_code == 400
    assert too_long.json()["error"]["code"] == "chat.too_long"


def test_ban_list_and_lift(operator_api: APIClient, viewer_api: APIClient, stream: Any) -> None:
    identity = _identity(last_address="198.51.100.4")
    _say(stream, identity, "bad")
    bad_kind = operator_api.post(
        f"{_base(stream)}/identities/{identity.pk}/ban", {"kind": "forever"}
    )
    assert bad_kind.status_code == 400
    assert bad_kind.json()["error"]["code"] == "validation.invalid_choice"
    assert bad_kind.json()["error"]["params"]["allowed"] == ["timeout", "ban"]
    no_duration = operator_api.post(
        f"{_base(stream)}/identities/{identity.pk}/ban", {"kind": "timeout"}
    )
    assert no_duration.status_code == 400
    assert not ChatBan.objects.exists()
    assert (
        viewer_api.post(
            f"{_base(stream)}/identities/{identity.pk}/ban", {"kind": "ban"}
        ).status_code
        == 403
    )
    response = operator_api.post(
        f"{_base(stream)}/identities/{identity.pk}/ban",
        {"kind": "ban", "reason": "spam", "hide_messages": True},
    )
    assert response.status_code == 201
    ban = response.json()
    assert ban["active"] and ban["by_address"] and "address" not in ban
    assert "198.51.100.4" not in response.content.decode()
    assert not ChatMessage.objects.filter(author=identity, visible=True).exists()
    # The ban list is the moderators' (a Viewer reads messages only).
    for path in ("identities?banned=true", "identities", "bans"):
        refused = viewer_api.get(f"{_base(stream)}/{path}")
        assert refused.status_code == 403, path
        assert refused.json()["error"]["code"] == "permission.not_moderator"
    listed = operator_api.get(f"{_base(stream)}/identities?banned=true").json()
    assert [(i["id"], i["banned"]) for i in listed["items"]] == [(identity.pk, True)]
    active = operator_api.get(f"{_base(stream)}/bans?active=true").json()
    assert [b["id"] for b in active["items"]] == [ban["id"]]
    lifted = operator_api.delete(f"{_base(stream)}/bans/{ban['id']}")
    assert lifted.status_code == 204
    assert operator_api.get(f"{_base(stream)}/bans?active=true").json()["total"] == 0
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"chat.ban", "chat.message_hide", "chat.ban_lift"} <= actions


def test_moderators_cannot_be_banned(operator_api: APIClient, stream: Any) -> None:
    moderator = _user(role=Role.VIEWER)
    ChatModerator.objects.create(stream=stream, user=moderator)
    identity = services.identity_for_user(moderator)
    response = operator_api.post(f"{_base(stream)}/identities/{identity.pk}/ban", {"kind": "ban"})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "chat.moderator_unbannable"


def test_settings_read_by_viewers_changed_by_moderators(
    viewer_api: APIClient, operator_api: APIClient, stream: Any
) -> None:
    assert viewer_api.get(f"{_base(stream)}/settings").json()["slow_mode_seconds"] == 0
    assert (
        viewer_api.patch(f"{_base(stream)}/settings", {"slow_mode_seconds": 5}).status_code == 403
    )
    bad = operator_api.patch(f"{_base(stream)}/settings", {"slow_mode_seconds": -1})
    assert bad.status_code == 400 and bad.json()["error"]["params"]["field"] == "slow_mode_seconds"
    response = operator_api.patch(
        f"{_base(stream)}/settings", {"slow_mode_seconds": 10, "signed_in_only": True}
    )
    assert response.status_code == 200
    assert response.json()["slow_mode_seconds"] == 10 and response.json()["signed_in_only"]
    entry = AuditEntry.objects.get(action="chat.settings_update")
    assert entry.changes["slow_mode_seconds"] == [0, 10]


def test_anonymous_register_gives_a_token_once(api: APIClient, stream: Any) -> None:
    response = api.post(f"{_base(stream)}/register", {"display_name": "  Pat\u200b  "})
    assert response.status_code == 201
    body = response.json()
    assert body["user"]["display_name"] == "Pat" and not body["user"]["authenticated"]
    identity = ChatIdentity.objects.get(pk=body["user"]["id"])
    assert body["access_token"] not in identity.token_digest
    forbidden = api.post(f"{_base(stream)}/register", {"display_name": "System"})
    assert forbidden.status_code == 400
    assert forbidden.json()["error"]["code"] == "chat.name_forbidden"
    private = _stream(visibility=LiveVisibility.PRIVATE)
    assert api.post(f"{_base(private)}/register", {}).status_code == 404
    assert api.post("/api/v1/live-streams/999999/chat/register", {}).status_code == 404


def test_anonymous_clients_may_not_read_the_rest_api(api: APIClient, stream: Any) -> None:
    response = api.get(f"{_base(stream)}/messages")
    assert response.status_code == 401
    assert response.json()["error"]["code"].startswith("auth.")


def test_messages_and_moderation_are_domain_events(operator_api: APIClient, stream: Any) -> None:
    from castcore.outbox.models import OutboxEvent

    identity = _identity()
    message = _say(stream, identity, "hello")
    operator_api.post(f"{_base(stream)}/identities/{identity.pk}/ban", {"kind": "ban"})
    sent = OutboxEvent.objects.get(event_type="chat.message")
    assert sent.subject == f"live_stream:{stream.pk}"
    assert sent.payload["message_id"] == message.pk and sent.payload["body"] == "hello"
    moderation = OutboxEvent.objects.get(event_type="chat.moderation")
    assert moderation.payload["action"] == "ban"
    assert moderation.payload["identity_id"] == identity.pk
    assert moderation.payload["by"] == "operator"
