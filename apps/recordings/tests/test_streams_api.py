"""asciinema's stream endpoints: create, update, delete, and the cursor-paginated user list."""

from __future__ import annotations

import re

import pytest

from apps.recordings.models import TerminalStream
from apps.recordings.tests.helpers import linked_cli

pytestmark = pytest.mark.django_db


def test_create_answers_201_with_location_and_urls() -> None:
    client = linked_cli()
    response = client.post(
        "/api/v1/streams",
        {"title": "Stream Title", "visibility": "public", "live": True},
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    stream = TerminalStream.objects.get(pk=body["id"])
    assert response["Location"] == body["url"] == f"http://testserver/s/{stream.pk}"
    assert body["ws_producer_url"] == f"ws://testserver/ws/S/{stream.producer_token}"
    assert body["live"] is False  # live means a producer is connected
    assert (body["title"], body["visibility"], body["description"], body["audio_url"]) == (
        "Stream Title", "public", None, None,
    )  # fmt: skip
    assert stream.producer_token not in stream.producer_token_hash


def test_patch_and_delete_by_id_or_token() -> None:
    client = linked_cli()
    created = client.post("/api/v1/streams", {}, format="json").json()
    token = TerminalStream.objects.get().url_token
    assert created["visibility"] == "unlisted" and created["url"].endswith(f"/s/{token}")

    patched = client.patch(
        f"/api/v1/streams/{token}", {"title": "New", "description": "d"}, format="json"
    )
    assert patched.status_code == 200 and patched.json()["title"] == "New"
    assert client.delete(f"/api/v1/streams/{created['id']}").status_code == 204
    assert not TerminalStream.objects.exists()


def test_someone_elses_stream_is_403_and_unknown_is_404() -> None:
    owner = linked_cli()
    created = owner.post("/api/v1/streams", {}, format="json").json()
    other = linked_cli()
    other.post("/api/v1/streams", {}, format="json")
    assert (
        other.patch(f"/api/v1/streams/{created['id']}", {"title": "x"}, format="json").status_code
        == 403
    )
    assert other.delete("/api/v1/streams/999999").status_code == 404
    assert other.patch(
        f"/api/v1/streams/{created['id']}", {"visibility": "nope"}, format="json"
    ).status_code in (403, 422)
    mine = other.post("/api/v1/streams", {}, format="json").json()
    assert (
        other.patch(
            f"/api/v1/streams/{mine['id']}", {"visibility": "nope"}, format="json"
        ).status_code
        == 422
    )


def test_user_streams_are_paginated_with_a_link_header() -> None:
    client = linked_cli()
    ids = [
        client.post("/api/v1/streams", {"title": f"s{n}"}, format="json").json()["id"]
        for n in range(5)
    ]
    linked_cli().post("/api/v1/streams", {}, format="json")  # someone else's

    first = client.get("/api/v1/user/streams?limit=2")
    assert first.status_code == 200 and [s["id"] for s in first.json()] == ids[:2]
    seen = [s["id"] for s in first.json()]
    link = first["Link"]
    while link:
        match = re.match(r'^<http://testserver(?P<path>[^>]+)>; rel="next"$', link)
        assert match
        page = client.get(match["path"])
        seen += [s["id"] for s in page.json()]
        link = page.get("Link") or ""
    assert seen == ids
    assert "Link" not in client.get("/api/v1/user/streams").headers  # default 10 > 5


def test_the_prefix_filter_and_the_limit_cap() -> None:
    client = linked_cli()
    for _ in range(3):
        client.post("/api/v1/streams", {}, format="json")
    wanted = TerminalStream.objects.first()
    assert wanted is not None
    found = client.get(f"/api/v1/user/streams?prefix={wanted.url_token[:10]}").json()
    assert [s["id"] for s in found] == [wanted.pk]
    assert client.get("/api/v1/user/streams?limit=1000").status_code == 200
    assert client.get("/api/v1/user/streams?limit=0").status_code == 422
    assert client.get("/api/v1/user/streams?cursor=%%%").status_code == 422


def test_an_unregistered_cli_cannot_create_streams() -> None:
    from apps.recordings.tests.helpers import cli_client

    assert cli_client().post("/api/v1/streams", {}, format="json").status_code == 401
