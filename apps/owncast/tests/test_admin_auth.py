"""Who may call a stream's Owncast admin API: its key (Basic `admin:<key>`), or an access
token holding HAS_ADMIN_ACCESS that may act on the stream. Everyone else gets Owncast's 401."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from django.urls import URLPattern

from apps.owncast.admin.urls import urlpatterns
from apps.owncast.auth import ADMIN_FAILURES_SCOPE
from apps.owncast.tests.admin_client import Admin, basic, bearer
from apps.owncast.tests.helpers import issue_token
from castcore.api.throttling import ClientFailureThrottle

pytestmark = pytest.mark.django_db

GETS = [
    "status", "serverconfig", "viewersOverTime", "hardwarestats", "logs", "logs/warnings",
    "chat/clients", "chat/messages", "chat/users/disabled", "users/disabled", "accesstokens",
    "webhooks",
]  # fmt: skip
ALL_PATHS = [str(p.pattern) for p in urlpatterns if isinstance(p, URLPattern)]


def _call(admin: Admin, path: str) -> Any:
    return admin.get(path) if path in GETS else admin.post(path, {"value": "x"})


@pytest.mark.parametrize("path", ALL_PATHS)
def test_every_admin_path_refuses_a_wrong_key_with_owncasts_401(
    streams: dict[str, Any], path: str
) -> None:
    response = _call(Admin("red", basic("not-the-key-" + "x" * 10)), path)
    assert response.status_code == 401, path
    assert response.content == b"Unauthorized\n"
    assert response["WWW-Authenticate"] == 'Basic realm="Owncast Authenticated Request"'


@pytest.mark.parametrize("path", ["status", "serverconfig", "config/streamtitle", "webhooks"])
def test_no_credentials_and_the_other_streams_key_are_refused(
    streams: dict[str, Any], path: str
) -> None:
    assert _call(Admin("red", {}), path).status_code == 401
    assert _call(Admin("red", basic(streams["blue_key"])), path).status_code == 401
    assert _call(Admin("red", basic(streams["red_key"], user="root")), path).status_code == 401


def _token(admin: Admin, scopes: list[str]) -> str:
    response = admin.post("accesstokens/create", {"name": "bot", "scopes": scopes})
    assert response.status_code == 200, response.content
    return str(response.json()["accessToken"])


@pytest.mark.parametrize("path", ["status", "chat/messages", "config/streamtitle", "accesstokens"])
def test_a_token_without_has_admin_access_gets_401_on_admin_paths(
    streams: dict[str, Any], path: str
) -> None:
    red = Admin("red", basic(streams["red_key"]))
    token = _token(red, ["CAN_SEND_MESSAGES", "CAN_SEND_SYSTEM_MESSAGES"])
    response = _call(Admin("red", bearer(token)), path)
    assert response.status_code == 401
    assert _call(Admin("red", bearer("cci_" + "x" * 43)), path).status_code == 401


def test_an_admin_token_works_on_its_own_stream_only(streams: dict[str, Any]) -> None:
    token = _token(Admin("red", basic(streams["red_key"])), ["HAS_ADMIN_ACCESS"])
    assert Admin("red", bearer(token)).get("status").status_code == 200
    assert Admin("red", bearer(token)).set("streamtitle", "by the bot").json()["success"] is True
    assert Admin("blue", bearer(token)).get("status").status_code == 401
    assert Admin("blue", bearer(token)).set("streamtitle", "not mine").status_code == 401
    streams["blue"].refresh_from_db()
    assert streams["blue"].title == "Blue title"


def test_the_root_base_is_the_default_streams_admin(streams: dict[str, Any], settings: Any) -> None:
    settings.OWNCAST_DEFAULT_STREAM = "blue"
    assert Admin(None, basic(streams["blue_key"])).get("status").status_code == 200
    assert Admin(None, basic(streams["red_key"])).get("status").status_code == 401


def test_a_revoked_key_opens_nothing(streams: dict[str, Any], operator_user: Any) -> None:
    from apps.streams.live.services import live_stream_revoke_key

    live_stream_revoke_key(actor=operator_user, stream=streams["red"])
    assert Admin("red", basic(streams["red_key"])).get("status").status_code == 401
    assert Admin("red", basic("")).get("status").status_code == 401


def test_a_wrong_admin_password_is_not_registered_for_redaction(streams: dict[str, Any]) -> None:
    from castcore.secrets import redact

    wrong = secrets.token_urlsafe(24)  # random: no other test registered a part of it
    assert _call(Admin("red", basic(wrong)), "status").status_code == 401
    assert redact(wrong) == wrong  # spam takes no place in the bounded registry
    assert _call(Admin("red", basic(streams["red_key"])), "status").status_code == 200


def test_wrong_keys_are_rate_limited_per_address_in_owncasts_shape(
    streams: dict[str, Any],
) -> None:
    allowed = ClientFailureThrottle(ADMIN_FAILURES_SCOPE).num_requests
    assert allowed is not None
    right = Admin("red", basic(streams["red_key"]))
    wrong = Admin("red", basic("not-the-key-" + "x" * 10))
    for _ in range(3 * allowed):  # the right key, polled, is never throttled
        assert right.get("status").status_code == 200
    for _ in range(allowed):
        assert wrong.get("status").status_code == 401
    # Used up: this address is refused, the right key too (a refusal tells no guess apart).
    for admin in (wrong, right):
        refused = admin.get("status")
        assert refused.status_code == 429
        assert refused.json() == {"success": False, "message": "rate limited"}
        assert int(refused["Retry-After"]) >= 1
    # Another address is not: the count is per client.
    other = right.client.get(right.base + "status", REMOTE_ADDR="10.0.0.2", **right.headers)
    assert other.status_code == 200
    # Nor is a token holding HAS_ADMIN_ACCESS from the locked address: no key is guessed.
    token = Admin("red", bearer(issue_token(["HAS_ADMIN_ACCESS"]).raw))
    assert token.get("status").status_code == 200
