"""Credentials inside output and input URLs: masked on read and in the audit log, and the
masked form sent back keeps the stored URL."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.streams.models import StreamJob
from apps.streams.tests.factories import new_profile

pytestmark = pytest.mark.django_db

SRT = "srt://h:9000?passphrase=SrtPassInUrl123&streamid=sid-secret-999"
RTMP = "rtmp://bob:RtmpUserPw77@h/app"
INPUT = "rtmp://user:InputPassword42@ingest.example/live/x"
SECRETS = ("SrtPassInUrl123", "sid-secret-999", "RtmpUserPw77", "InputPassword42")


def create_job(api: APIClient, **fields: Any) -> dict[str, Any]:
    body = {
        "name": "secret urls",
        "input_kind": "url",
        "input_url": INPUT,
        "profile": new_profile().pk,
        "outputs": [
            {"name": "srt", "kind": "srt", "url": SRT},
            {"name": "rtmp", "kind": "rtmp", "url": RTMP, "stream_key": "key-0123456789"},
        ],
        **fields,
    }
    response = api.post("/api/v1/stream-jobs", body, format="json")
    assert response.status_code == 201, response.content
    return dict(response.json())


def assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, secret


def test_a_viewer_sees_output_urls_with_their_credentials_masked(
    operator_api: APIClient, viewer_api: APIClient
) -> None:
    job = create_job(operator_api)
    response = viewer_api.get(f"/api/v1/stream-jobs/{job['id']}")
    assert response.status_code == 200
    assert_no_secret(response.content.decode())
    urls = [output["url"] for output in response.json()["outputs"]]
    assert urls == [
        "srt://h:9000?passphrase=••••l123&streamid=••••-999",
        "rtmp://bob:••••Pw77@h/app",
    ]


def test_the_audit_log_holds_masked_urls(operator_api: APIClient, admin_api: APIClient) -> None:
    job = create_job(operator_api)
    operator_api.patch(
        f"/api/v1/stream-jobs/{job['id']}",
        {"outputs": [{"kind": "srt", "url": SRT + "&latency=200"}]},
        format="json",
    )
    response = admin_api.get("/api/v1/audit?limit=100")
    assert response.status_code == 200
    text = response.content.decode()
    assert "h:9000" in text and "bob:••••Pw77@h/app" in text
    assert_no_secret(text)


def test_sending_back_the_masked_urls_keeps_the_stored_ones(operator_api: APIClient) -> None:
    job = create_job(operator_api)
    read = operator_api.get(f"/api/v1/stream-jobs/{job['id']}").json()
    response = operator_api.put(
        f"/api/v1/stream-jobs/{job['id']}",
        {key: read[key] for key in ("name", "input_kind", "input_url", "profile", "outputs")},
        format="json",
    )
    assert response.status_code == 200, response.content
    stored = StreamJob.objects.get(pk=job["id"])
    assert [o.url for o in stored.outputs.all()] == [SRT, RTMP]
    assert stored.outputs.get(kind="rtmp").stream_key == "key-0123456789"
    assert stored.input_url == INPUT


def test_patching_the_masked_input_url_keeps_the_stored_one(operator_api: APIClient) -> None:
    job = create_job(operator_api)
    assert job["input_url"] == "rtmp://user:••••rd42@ingest.example/live/x"
    response = operator_api.patch(
        f"/api/v1/stream-jobs/{job['id']}", {"input_url": job["input_url"]}, format="json"
    )
    assert response.status_code == 200, response.content
    assert StreamJob.objects.get(pk=job["id"]).input_url == INPUT


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"input_url": "rtmp://user:••••rd42@other.example/live/x"}, "input_url"),
        (
            {"outputs": [{"kind": "srt", "url": "srt://h:9000?passphrase=••••l123"}]},
            "outputs.0.url",
        ),
    ],
)
def test_a_mask_that_does_not_stand_for_the_stored_url_is_refused(
    operator_api: APIClient, patch: dict[str, Any], field: str
) -> None:
    job = create_job(operator_api)
    response = operator_api.patch(f"/api/v1/stream-jobs/{job['id']}", patch, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "stream_job.masked_url"
    assert response.json()["error"]["params"]["field"] == field
    stored = StreamJob.objects.get(pk=job["id"])
    assert stored.input_url == INPUT and [o.url for o in stored.outputs.all()] == [SRT, RTMP]


def test_a_changed_url_without_a_mask_replaces_the_stored_one(operator_api: APIClient) -> None:
    job = create_job(operator_api)
    outputs = [{"id": job["outputs"][1]["id"], "kind": "rtmp", "url": "rtmp://h/app2"}]
    response = operator_api.patch(
        f"/api/v1/stream-jobs/{job['id']}", {"outputs": outputs}, format="json"
    )
    assert response.status_code == 200, response.content
    output = StreamJob.objects.get(pk=job["id"]).outputs.get()
    assert (output.url, output.stream_key) == ("rtmp://h/app2", "key-0123456789")


def test_the_migration_masks_urls_in_earlier_audit_entries(operator_user: Any) -> None:
    from importlib import import_module

    from django.apps import apps

    from apps.accounts.models import AuditEntry

    raw = [{"kind": "srt", "url": SRT, "enabled": True}, {"kind": "file", "url": "/a?b=c"}]
    entry = AuditEntry.objects.create(action="stream_job.update", changes={"outputs": [None, raw]})
    migration = import_module("apps.streams.migrations.0004_mask_output_urls_in_audit")
    migration.mask_audit_urls(apps, None)
    entry.refresh_from_db()
    assert entry.changes["outputs"][1] == [
        {
            "kind": "srt",
            "url": "srt://h:9000?passphrase=••••l123&streamid=••••-999",
            "enabled": True,
        },
        {"kind": "file", "url": "/a?b=c"},
    ]
