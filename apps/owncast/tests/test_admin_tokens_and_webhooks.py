"""Access tokens and webhooks through the Owncast admin API are the integrations app's rows:
what is made here shows in /api/v1/access-tokens and /api/v1/webhooks, and the other way
round; a token's value is shown once."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from apps.integrations.models import IntegrationToken, Webhook
from apps.owncast.tests.admin_client import Admin, basic, bearer

pytestmark = pytest.mark.django_db

SCOPES = ["CAN_SEND_SYSTEM_MESSAGES", "CAN_SEND_MESSAGES", "HAS_ADMIN_ACCESS"]


@pytest.fixture
def red(streams: dict[str, Any]) -> Admin:
    return Admin("red", basic(streams["red_key"]))


def test_a_token_made_here_is_an_integration_token_shown_once(red: Admin, admin_api: Any) -> None:
    made = red.post("accesstokens/create", {"name": "Automated test", "scopes": SCOPES}).json()
    raw = made["accessToken"]
    assert raw.startswith("cci_") and made["displayName"] == "Automated test"
    assert made["scopes"] == SCOPES and made["createdAt"] and made["type"] == "API"
    # Listed in clear to the stream's key holder (as Owncast lists them), masked to a token.
    listed = red.get("accesstokens").json()
    assert [(t["id"], t["accessToken"]) for t in listed] == [(made["id"], raw)]
    as_bot = Admin("red", bearer(raw)).get("accesstokens").json()
    assert as_bot[0]["accessToken"] != raw and raw[-4:] in as_bot[0]["accessToken"]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT kept_value FROM {IntegrationToken._meta.db_table}")  # noqa: S608
        (stored,) = cursor.fetchone()
    assert stored and raw not in stored  # encrypted at rest
    assert IntegrationToken.objects.get().kept_value == raw
    native = admin_api.get("/api/v1/access-tokens").json()["items"]
    assert [t["id"] for t in native] == [int(made["id"])]
    assert sorted(native[0]["scopes"]) == ["chat.moderate", "chat.send", "chat.system",
                                           "stream.admin"]  # fmt: skip
    assert raw not in str(native)


def test_tokens_are_deleted_by_value_or_id_and_only_the_streams_own(
    red: Admin, streams: dict[str, Any], admin_api: Any
) -> None:
    first = red.post("accesstokens/create", {"name": "a", "scopes": SCOPES}).json()
    second = red.post("accesstokens/create", {"name": "b", "scopes": SCOPES}).json()
    assert red.post("accesstokens/delete", {"token": first["accessToken"]}).json() == {
        "success": True,
        "message": "deleted token",
    }
    assert red.post("accesstokens/delete", {"token": second["id"]}).json()["success"] is True
    assert red.get("accesstokens").json() == []
    assert IntegrationToken.objects.filter(revoked_at__isnull=False).count() == 2
    # A token made natively (no stream) works on every base and shows here, but a
    # stream's key holder cannot revoke the instance's token.
    native = admin_api.post(
        "/api/v1/access-tokens", {"name": "instance bot", "scopes": ["chat.send"]}, format="json"
    ).json()
    listed = red.get("accesstokens").json()
    assert [t["displayName"] for t in listed] == ["instance bot"]
    assert listed[0]["scopes"] == ["CAN_SEND_MESSAGES"]
    refused = red.post("accesstokens/delete", {"token": native["token"]})
    assert refused.status_code == 400 and refused.json()["success"] is False
    # The other stream's tokens are neither listed nor deletable here.
    blue = Admin("blue", basic(streams["blue_key"]))
    theirs = blue.post("accesstokens/create", {"name": "blue bot", "scopes": SCOPES}).json()
    assert "blue bot" not in [t["displayName"] for t in red.get("accesstokens").json()]
    assert red.post("accesstokens/delete", {"token": theirs["id"]}).json()["success"] is False
    assert blue.get("accesstokens").json()[-1]["displayName"] == "blue bot"


@pytest.mark.parametrize(
    "payload",
    [{"name": "x", "scopes": ["CAN_FLY"]}, {"name": "x", "scopes": []},
     {"name": "", "scopes": SCOPES}, {"scopes": SCOPES},
     {"name": "x", "scopes": "HAS_ADMIN_ACCESS"}],
)  # fmt: skip
def test_a_bad_token_request_is_refused_and_makes_nothing(red: Admin, payload: Any) -> None:
    response = red.post("accesstokens/create", payload)
    assert response.status_code == 400 and response.json()["success"] is False
    assert not IntegrationToken.objects.exists()


def test_a_webhook_made_here_is_an_owncast_format_webhook_of_the_stream(
    red: Admin, streams: dict[str, Any], admin_api: Any
) -> None:
    made = red.post(
        "webhooks/create", {"url": "https://hooks.example.org/owncast", "events": ["CHAT"]}
    ).json()
    assert made["events"] == ["CHAT"] and made["timestamp"] and made["secret"].startswith("whsec_")
    # In clear to the key holder who made it; scheme and host only to anyone else (receivers
    # keep tokens in paths), as everywhere in CastCore.
    assert made["url"] == "https://hooks.example.org/owncast" and isinstance(made["id"], int)
    token = red.post("accesstokens/create", {"name": "b", "scopes": SCOPES}).json()
    shown = Admin("red", bearer(token["accessToken"])).get("webhooks").json()[0]["url"]
    assert shown.startswith("https://hooks.example.org/") and "owncast" not in shown
    webhook = Webhook.objects.get()
    assert webhook.format == "owncast" and webhook.live_stream_id == streams["red"].pk
    assert webhook.url == "https://hooks.example.org/owncast"
    listed = red.get("webhooks").json()
    assert [w["id"] for w in listed] == [made["id"]] and "secret" not in listed[0]
    native = admin_api.get("/api/v1/webhooks").json()["items"]
    assert native[0]["format"] == "owncast" and native[0]["live_stream"] == streams["red"].pk
    assert "owncast" not in native[0]["url"]
    assert Admin("blue", basic(streams["blue_key"])).get("webhooks").json() == []
    # Deleted by id; another stream's id is no webhook of this one.
    blue = Admin("blue", basic(streams["blue_key"]))
    assert blue.post("webhooks/delete", {"id": made["id"]}).json()["success"] is False
    assert red.post("webhooks/delete", {"id": str(made["id"])}).json() == {
        "success": True,
        "message": "deleted webhook",
    }
    assert red.get("webhooks").json() == [] and not Webhook.objects.exists()


def test_a_native_owncast_webhook_for_the_stream_shows_here(
    red: Admin, streams: dict[str, Any], admin_api: Any
) -> None:
    response = admin_api.post(
        "/api/v1/webhooks",
        {"name": "n", "url": "https://hooks.example.org/", "events": ["STREAM_STARTED"],
         "format": "owncast", "live_stream": streams["red"].pk},
        format="json",
    )  # fmt: skip
    assert response.status_code == 201, response.content
    assert [w["events"] for w in red.get("webhooks").json()] == [["STREAM_STARTED"]]
    # Owncast's names belong to Owncast-format webhooks, CastCore's to the others.
    wrong = admin_api.post(
        "/api/v1/webhooks",
        {"name": "n", "url": "https://hooks.example.org/", "events": ["CHAT"]},
        format="json",
    )
    assert wrong.status_code == 400
    assert wrong.json()["error"]["code"] == "validation.invalid_choice"


@pytest.mark.parametrize(
    "payload",
    [{"url": "https://hooks.example.org/", "events": ["NOT_AN_EVENT"]},
     {"url": "ftp://hooks.example.org/", "events": ["CHAT"]},
     {"url": "http://169.254.169.254/latest", "events": ["CHAT"]},
     {"url": "https://hooks.example.org/", "events": []}, {"events": ["CHAT"]}],
)  # fmt: skip
def test_a_bad_webhook_is_refused_in_owncasts_shape(red: Admin, payload: Any) -> None:
    response = red.post("webhooks/create", payload)
    assert response.status_code == 400 and response.json()["success"] is False
    assert not Webhook.objects.exists()
