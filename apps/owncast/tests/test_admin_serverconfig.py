"""/api/admin/serverconfig: the stream's configuration, and the one place its key is shown
(to a caller who authenticated with that key). The key setter changes the admin password."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from apps.accounts.models import AuditEntry
from apps.owncast.tests.admin_client import Admin, basic, bearer

pytestmark = pytest.mark.django_db

GETS = [
    "status", "viewersOverTime", "hardwarestats", "logs", "logs/warnings", "chat/clients",
    "chat/messages", "chat/users/disabled", "accesstokens", "webhooks",
]  # fmt: skip


def test_serverconfig_shows_the_key_to_its_holder(streams: dict[str, Any]) -> None:
    key = streams["red_key"]
    config = Admin("red", basic(key)).get("serverconfig").json()
    assert config["streamKey"] == key and config["adminPassword"] == key
    assert config["instanceDetails"]["name"] == "Red"
    assert config["instanceDetails"]["streamTitle"] == "Red title"
    assert config["videoSettings"]["latencyLevel"] == streams["red"].latency_level
    # The default ladder: the publisher's video passed through, and a 360p encode.
    variants = config["videoSettings"]["videoQualityVariants"]
    assert [v["videoPassthrough"] for v in variants] == [True, False]
    assert variants[1]["scaledHeight"] == 360 and variants[1]["videoBitrate"] == 800
    assert config["yp"]["enabled"] is False and config["s3"]["enabled"] is False
    assert config["videoCodec"] == "libx264"


def test_the_key_is_in_no_other_answer(streams: dict[str, Any], admin_api: Any) -> None:
    key = streams["red_key"]
    red = Admin("red", basic(key))
    token = red.post("accesstokens/create", {"name": "b", "scopes": ["HAS_ADMIN_ACCESS"]}).json()
    config = Admin("red", bearer(token["accessToken"])).get("serverconfig").json()
    assert config["streamKey"] == "" and config["adminPassword"] == ""
    for path in GETS:
        response = red.get(path)
        assert response.status_code == 200, path
        assert key not in response.content.decode(), path
    client = Client()
    for path in ("status", "config", "yp", "emoji"):
        assert key not in client.get(f"/owncast/red/api/{path}").content.decode()
    native = admin_api.get(f"/api/v1/live-streams/{streams['red'].pk}")
    assert key not in native.content.decode()
    # Setting it is audited, masked.
    assert red.set("key", "a-new-key-of-twenty-chars").json()["success"] is True
    entries = AuditEntry.objects.filter(action="live_stream.rotate_key")
    assert entries.exists() and "a-new-key-of-twenty-chars" not in str(list(entries.values()))


def test_a_new_key_is_the_new_admin_password(streams: dict[str, Any]) -> None:
    old, new = streams["red_key"], "Owncast_Key-0123456789"
    response = Admin("red", basic(old)).set("key", new)
    assert response.status_code == 200 and response.json() == {
        "success": True,
        "message": "changed",
    }
    assert Admin("red", basic(old)).get("status").status_code == 401
    assert Admin("red", basic(new)).get("serverconfig").json()["streamKey"] == new
    # `adminpass` (Owncast's later name for the same password) sets the same key.
    assert Admin("red", basic(new)).set("adminpass", old).json()["success"] is True
    assert Admin("red", basic(old)).get("status").status_code == 200


@pytest.mark.parametrize("bad", ["short", "has spaces in it here!", 12345678901234567, None])
def test_a_key_castcore_cannot_take_is_refused_and_the_old_one_stays(
    streams: dict[str, Any], bad: Any
) -> None:
    red = Admin("red", basic(streams["red_key"]))
    response = red.set("key", bad)
    assert response.status_code == 400 and response.json()["success"] is False
    assert red.get("status").status_code == 200


def test_the_key_of_another_stream_is_refused(streams: dict[str, Any]) -> None:
    response = Admin("red", basic(streams["red_key"])).set("key", streams["blue_key"])
    assert response.status_code == 400
    assert response.json() == {"success": False, "message": "live_stream.key_in_use"}


def test_serverconfig_reports_the_summary_as_set_while_config_renders_it(
    streams: dict[str, Any],
) -> None:
    red = Admin("red", basic(streams["red_key"]))
    assert red.set("serversummary", "The *best* in [streaming](https://example.org)").json()[
        "success"
    ]
    config = red.get("serverconfig").json()
    assert config["instanceDetails"]["summary"] == "The *best* in [streaming](https://example.org)"
    served = Client().get("/owncast/red/api/config").json()["summary"]
    assert "<em>best</em>" in served and 'href="https://example.org"' in served
