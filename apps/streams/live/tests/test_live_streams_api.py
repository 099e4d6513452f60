"""/api/v1/live-streams: CRUD, validation in the envelope, RBAC, and the key's secrecy."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.accounts.models import AuditEntry
from apps.accounts.roles import Role
from apps.accounts.tests.factories import UserFactory
from apps.streams import specs
from apps.streams.live import ingest
from apps.streams.live.models import LiveSession, LiveStream
from apps.streams.live.sessions import PublishRefused, live_publish_start
from apps.streams.live.tests.factories import live_stream
from apps.streams.models import StreamJob
from apps.streams.tests.factories import ProfileFactory
from castcore import addresses

pytestmark = pytest.mark.django_db


UDP = {"kind": "udp", "url": "udp://203.0.113.9:9000"}


def payload(**fields: Any) -> dict[str, Any]:
    return {
        "name": "Studio A",
        "slug": "studio-a",
        "title": "Morning show",
        "tags": ["music", "live"],
        "profile": ProfileFactory.create().pk,
        "outputs": [UDP],
        **fields,
    }


def test_create_returns_the_key_once_and_masks_it_afterwards(operator_api: APIClient) -> None:
    response = operator_api.post("/api/v1/live-streams", payload(), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    key = body["ingest_key"]
    assert len(key) >= 32 and body["ingest_key_masked"] == "••••" + key[-4:]
    assert body["state"] == "offline" and body["session"] is None
    assert body["ingest"]["rtmp_url"].endswith("/live") and key not in str(body["ingest"])

    detail = operator_api.get(f"/api/v1/live-streams/{body['id']}").json()
    listing = operator_api.get("/api/v1/live-streams").json()
    assert "ingest_key" not in detail and key not in str(detail) and key not in str(listing)
    assert listing["total"] == 1 and listing["items"][0]["slug"] == "studio-a"
    audit = list(AuditEntry.objects.values_list("changes", flat=True))
    assert audit and key not in str(audit)


def test_the_stream_job_reads_its_own_ingest_on_loopback(operator_api: APIClient) -> None:
    body = operator_api.post("/api/v1/live-streams", payload(), format="json").json()
    job = StreamJob.objects.get(pk=body["job"])
    assert job.input_url == ingest.internal_ingest_url(body["id"])
    assert job.input_url.startswith("rtmp://127.0.0.1:") and body["ingest_key"] not in job.input_url
    assert job.reconnect_max_attempts is None and not job.autostart


def test_private_targets_off_refuses_loopback_to_users_but_not_the_live_ingest(
    operator_api: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(addresses, "ALLOW_PRIVATE_TARGETS", False)
    body = operator_api.post("/api/v1/live-streams", payload(), format="json").json()
    job = StreamJob.objects.get(pk=body["job"])
    specs.input_spec_for(job)  # CastCore's own ingest: allowed

    # The same URL on a user's job, or the live job pointed elsewhere on loopback: refused.
    user_job = {
        "name": "sneaky", "input_kind": "url", "input_url": job.input_url,
        "profile": body["profile"], "outputs": [UDP],
    }  # fmt: skip
    refused = operator_api.post("/api/v1/stream-jobs", user_job, format="json")
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "stream_job.address_not_allowed"
    changed = operator_api.patch(
        f"/api/v1/stream-jobs/{job.pk}", {"input_url": "rtmp://127.0.0.1:6379/x"}, format="json"
    )
    assert changed.status_code == 400
    assert changed.json()["error"]["code"] == "stream_job.address_not_allowed"


def test_page_content_is_sanitised_on_write(operator_api: APIClient) -> None:
    html = '<p onclick="steal()">Hi <script>alert(1)</script><a href="javascript:x">l</a></p>'
    body = operator_api.post(
        "/api/v1/live-streams", payload(page_content=html), format="json"
    ).json()
    assert "script" not in body["page_content"] and "onclick" not in body["page_content"]
    assert "javascript" not in body["page_content"] and "<p>Hi" in body["page_content"]


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"visibility": "secret"}, "validation.invalid_choice"),
        ({"latency_level": 9}, "validation.invalid_choice"),
        ({"slug": "not a slug"}, "validation.invalid"),
        ({"variants": [{"name": "big", "width": 99999, "height": 720,
                        "video_bitrate_kbps": 1000}]}, "validation.out_of_range"),
        ({"variants": "tall"}, "spec.invalid_variants"),
        ({"ingest_key": "short"}, "validation.invalid_key"),
        ({"outputs": [{"kind": "rtmp", "url": "rtmp://169.254.169.254/live", "stream_key": "k"}]},
         "stream_job.address_not_allowed"),
    ],
)  # fmt: skip
def test_bad_input_is_a_400_that_writes_nothing(
    operator_api: APIClient, fields: dict[str, Any], code: str
) -> None:
    response = operator_api.post("/api/v1/live-streams", payload(**fields), format="json")
    assert response.status_code == 400, response.json()
    error = response.json()["error"]
    codes = {error["code"], *(e.get("code") for e in error["params"].get("errors", []))}
    assert code in codes, error
    assert not LiveStream.objects.exists() and not StreamJob.objects.exists()


def test_a_taken_slug_is_refused(operator_api: APIClient) -> None:
    assert operator_api.post("/api/v1/live-streams", payload(), format="json").status_code == 201
    again = operator_api.post("/api/v1/live-streams", payload(), format="json")
    assert again.status_code == 400 and LiveStream.objects.count() == 1


def test_outputs_and_recording_are_the_jobs(operator_api: APIClient) -> None:
    outputs = [{"kind": "rtmp", "url": "rtmp://203.0.113.5/app", "stream_key": "restreamkey1"}]
    body = operator_api.post(
        "/api/v1/live-streams", payload(outputs=outputs, recording_enabled=True), format="json"
    ).json()
    assert body["recording_enabled"] is True
    assert body["outputs"][0]["stream_key"] == "••••key1"
    job = StreamJob.objects.get(pk=body["job"])
    assert job.recording_enabled and job.outputs.get().stream_key == "restreamkey1"

    off = [{**body["outputs"][0], "enabled": False}]  # the masked key sent back: kept
    patched = operator_api.patch(
        f"/api/v1/live-streams/{body['id']}", {"outputs": off, "title": "New"}, format="json"
    )
    assert patched.status_code == 200, patched.json()
    assert patched.json()["outputs"][0]["enabled"] is False and patched.json()["title"] == "New"
    assert job.outputs.get().stream_key == "restreamkey1"


def test_rotate_key_shows_the_new_key_once_and_the_old_one_is_refused(
    operator_user: Any, operator_api: APIClient
) -> None:
    stream, old = live_stream(operator_user, outputs=[UDP])
    response = operator_api.post(f"/api/v1/live-streams/{stream.pk}/rotate-key")
    assert response.status_code == 200
    new = response.json()["ingest_key"]
    assert new != old and response.json()["ingest_key_masked"] == "••••" + new[-4:]
    with pytest.raises(PublishRefused):
        live_publish_start(key=old, protocol="rtmp", address="127.0.0.1")
    assert live_publish_start(key=new, protocol="rtmp", address="127.0.0.1").session.is_open


def test_a_revoked_key_refuses_every_publish(operator_user: Any, operator_api: APIClient) -> None:
    stream, key = live_stream(operator_user, outputs=[UDP])
    response = operator_api.post(f"/api/v1/live-streams/{stream.pk}/revoke-key")
    assert response.status_code == 200 and response.json()["ingest_key_masked"] == ""
    for attempt in (key, ""):
        with pytest.raises(PublishRefused):
            live_publish_start(key=attempt, protocol="rtmp", address="127.0.0.1")
    assert not LiveSession.objects.exists()


def test_an_operator_manages_only_their_own_streams(
    operator_api: APIClient, admin_api: APIClient
) -> None:
    other = UserFactory(role=Role.OPERATOR)
    stream, _ = live_stream(other, outputs=[UDP])
    url = f"/api/v1/live-streams/{stream.pk}"
    assert operator_api.get(url).status_code == 200  # public: readable
    for method, path in (("patch", url), ("delete", url), ("post", url + "/rotate-key"),
                         ("post", url + "/stop")):  # fmt: skip
        response = getattr(operator_api, method)(path, {"title": "x"}, format="json")
        assert response.status_code == 403, (method, path)
        assert response.json()["error"]["code"] == "permission.not_owner"
    assert admin_api.patch(url, {"title": "By admin"}, format="json").status_code == 200


def test_viewers_read_what_they_may_see_and_change_nothing(
    viewer_api: APIClient, operator_user: Any
) -> None:
    public, _ = live_stream(operator_user, outputs=[UDP])
    private, _ = live_stream(operator_user, visibility="private", outputs=[UDP])
    listing = viewer_api.get("/api/v1/live-streams").json()
    assert [item["id"] for item in listing["items"]] == [public.pk]
    assert viewer_api.get(f"/api/v1/live-streams/{private.pk}").status_code == 404
    assert viewer_api.post("/api/v1/live-streams", payload(), format="json").status_code == 403
    assert viewer_api.get(f"/api/v1/live-streams/{public.pk}/sessions").status_code == 200


def test_the_state_filter_and_sessions_list(operator_user: Any, operator_api: APIClient) -> None:
    live, key = live_stream(operator_user, outputs=[UDP])
    idle, _ = live_stream(operator_user, outputs=[UDP])
    live_publish_start(key=key, protocol="rtmp", address="192.0.2.7", client_id="12")
    ids = lambda q: [i["id"] for i in operator_api.get(f"/api/v1/live-streams?{q}").json()["items"]]  # noqa: E731
    assert ids("state=live") == [live.pk] and ids("state=offline") == [idle.pk]
    sessions = operator_api.get(f"/api/v1/live-streams/{live.pk}/sessions").json()
    assert sessions["total"] == 1 and sessions["items"][0]["ended_at"] is None
    detail = operator_api.get(f"/api/v1/live-streams/{live.pk}").json()
    assert detail["state"] == "live" and detail["session"]["protocol"] == "rtmp"


def test_delete_removes_the_stream_and_its_job(operator_user: Any, operator_api: APIClient) -> None:
    stream, _ = live_stream(operator_user, outputs=[UDP])
    job_id = stream.job_id
    assert operator_api.delete(f"/api/v1/live-streams/{stream.pk}").status_code == 204
    assert not LiveStream.objects.exists() and not StreamJob.objects.filter(pk=job_id).exists()


def test_the_job_of_a_live_stream_is_not_deleted_on_its_own(
    operator_user: Any, operator_api: APIClient
) -> None:
    stream, _ = live_stream(operator_user, outputs=[UDP])
    response = operator_api.delete(f"/api/v1/stream-jobs/{stream.job_id}")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "stream_job.owned_by_live_stream"


def test_the_admin_lists_live_state_and_never_the_key(
    admin_user: Any, operator_user: Any, client: Any
) -> None:
    stream, key = live_stream(operator_user, outputs=[UDP])
    live_publish_start(key=key, protocol="rtmp", address="127.0.0.1")
    client.force_login(admin_user)
    listing = client.get("/admin/streams/livestream/")
    change = client.get(f"/admin/streams/livestream/{stream.pk}/change/")
    assert listing.status_code == 200 and change.status_code == 200
    assert "live" in listing.content.decode() and "••••" + key[-4:] in listing.content.decode()
    assert key not in listing.content.decode() + change.content.decode()
