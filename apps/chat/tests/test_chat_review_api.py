"""The REST side of the review's gaps: strict filters, private streams' moderators,
audit of shows and revokes, the watch page's cache header."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from apps.accounts.models import AuditEntry
from apps.accounts.roles import Role
from apps.accounts.tests.factories import UserFactory
from apps.chat import services
from apps.chat.models import ChatIdentity, ChatMessage, ChatModerator
from apps.chat.tests.factories import ChatIdentityFactory, LiveStreamFactory
from apps.streams.models import LiveVisibility

pytestmark = pytest.mark.django_db


def _identity() -> Any:
    return ChatIdentityFactory()


def _base(stream: Any) -> str:
    return f"/api/v1/live-streams/{stream.pk}/chat"


def _say(stream: Any, identity: ChatIdentity, body: str) -> ChatMessage:
    return services.message_send(stream=stream, identity=identity, body=body, address=None)


@pytest.fixture
def stream(operator_user: Any) -> Any:
    return LiveStreamFactory(owner=operator_user)


@pytest.mark.parametrize(
    "query",
    [
        "messages?visible=zzz",
        "identities?banned=zzz",
        "identities?connected=maybe",
        "bans?active=zzz",
        "messages?ordering=bogus",
        "messages?ordering=id,-nope",
        "identities?ordering=last_address",
    ],
)
def test_a_bad_filter_or_ordering_is_a_400_in_the_envelope(
    operator_api: APIClient, stream: Any, query: str
) -> None:
    response = operator_api.get(f"{_base(stream)}/{query}")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "validation.invalid_choice"
    assert error["params"]["field"] == query.split("?")[1].split("=")[0]
    assert error["params"]["allowed"]


def test_good_filters_and_ordering_still_work(operator_api: APIClient, stream: Any) -> None:
    identity = _identity()
    first, second = _say(stream, identity, "one"), _say(stream, identity, "two")
    services.messages_set_visibility(
        stream=stream, message_ids=[first.pk], visible=False, actor=None
    )
    hidden = operator_api.get(f"{_base(stream)}/messages?visible=false").json()["items"]
    assert [m["id"] for m in hidden] == [first.pk]
    shown = operator_api.get(f"{_base(stream)}/messages?visible=1").json()["items"]
    assert [m["id"] for m in shown] == [second.pk]
    newest = operator_api.get(f"{_base(stream)}/messages?ordering=-id").json()["items"]
    assert [m["id"] for m in newest] == [second.pk, first.pk]


def test_a_granted_moderator_reads_and_moderates_a_private_stream(
    client_for: Callable[[Any], APIClient], operator_user: Any
) -> None:
    private: Any = LiveStreamFactory(owner=operator_user, visibility=LiveVisibility.PRIVATE)
    moderator: Any = UserFactory(role=Role.VIEWER)
    stranger: Any = UserFactory(role=Role.VIEWER)
    ChatModerator.objects.create(stream=private, user=moderator)
    message = _say(private, _identity(), "rude")
    api = client_for(moderator)
    assert api.get(f"{_base(private)}/messages").status_code == 200
    hidden = api.post(
        f"{_base(private)}/messages/visibility", {"ids": [message.pk], "visible": False}
    )
    assert hidden.status_code == 200 and hidden.json() == {"changed": [message.pk]}
    assert api.get(f"{_base(private)}/bans").status_code == 200
    # Someone without the role still does not see it exist.
    assert client_for(stranger).get(f"{_base(private)}/messages").status_code == 404


def test_showing_a_message_and_revoking_a_moderator_are_audited(
    operator_api: APIClient, operator_user: Any, stream: Any
) -> None:
    moderator: Any = UserFactory(role=Role.VIEWER)
    assert operator_api.post(f"{_base(stream)}/moderators", {"user": moderator.pk}).status_code
    message = _say(stream, _identity(), "shown again")
    for visible in (False, True):
        response = operator_api.post(
            f"{_base(stream)}/messages/visibility", {"ids": [message.pk], "visible": visible}
        )
        assert response.json() == {"changed": [message.pk]}
    shown = AuditEntry.objects.get(action="chat.message_show")
    assert shown.actor == operator_user and shown.changes == {
        "message_ids": [message.pk],
        "visible": True,
    }
    assert operator_api.delete(f"{_base(stream)}/moderators/{moderator.pk}").status_code == 204
    revoked = AuditEntry.objects.get(action="chat.moderator_revoke")
    assert revoked.actor == operator_user
    assert revoked.changes == {"user_id": moderator.pk, "username": moderator.username}
    # Revoking again changes nothing and records nothing.
    assert operator_api.delete(f"{_base(stream)}/moderators/{moderator.pk}").status_code == 404
    assert AuditEntry.objects.filter(action="chat.moderator_revoke").count() == 1


def test_the_watch_page_with_its_tickets_is_not_cached() -> None:
    stream: Any = LiveStreamFactory()
    response = Client().get(f"/live/{stream.slug}")
    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-store"


def test_two_limits_of_one_length_on_one_key_count_each_event_once() -> None:
    from apps.chat import ratelimit
    from apps.chat.ratelimit import Window

    limits = [("review:same-length", Window(2, 3600)), ("review:same-length", Window(5, 3600))]
    assert ratelimit.hit(limits) == []
    assert ratelimit.hit(limits) == []  # two events: within 2 of the tighter limit
    assert len(ratelimit.hit(limits)) == 1  # the third is over it, not over the other
