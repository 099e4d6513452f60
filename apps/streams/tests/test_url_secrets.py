"""A secret inside an output or input URL (here the stream key in an RTMP path) is
encrypted at rest and masked wherever the URL is shown: API responses, the audit
log, the command preview, log and status frames, and run log tails."""

from __future__ import annotations

import asyncio
import json
import logging
from importlib import import_module
from types import SimpleNamespace
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.apps import apps
from django.db import connection
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from apps.accounts.models import AuditEntry
from apps.accounts.roles import Role
from apps.accounts.tests.factories import UserFactory
from apps.streams.models import ExitReason, StreamJob, StreamOutput, StreamRun
from apps.streams.services import stream_job_start, stream_job_stop
from apps.streams.tests.factories import job_with_outputs, new_profile
from apps.streams.tests.helpers import RunThread, run_row, start_supervised, wait_until
from castcore.asgi import application
from workers.ffmpeg.tests.rtmp_server import RtmpServer, free_port

KEY = "abcd-efgh-ijkl-mnop-1234"
OUTPUT = f"rtmp://a.rtmp.example/live2/{KEY}"
SHOWN = "rtmp://a.rtmp.example/live2/••••1234"
INPUT_KEY = "input-stream-key-5678"
INPUT = f"rtmp://ingest.example/live/{INPUT_KEY}"
SECRETS = (KEY, INPUT_KEY)


def create_job(api: APIClient) -> dict[str, Any]:
    body = {
        "name": "key in the path",
        "input_kind": "url",
        "input_url": INPUT,
        "profile": new_profile().pk,
        "outputs": [{"name": "yt", "kind": "rtmp", "url": OUTPUT}],
    }
    response = api.post("/api/v1/stream-jobs", body, format="json")
    assert response.status_code == 201, response.content
    return dict(response.json())


def assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, secret


@pytest.mark.django_db
def test_an_rtmp_key_in_the_url_path_is_masked_in_responses(
    operator_api: APIClient, viewer_api: APIClient
) -> None:
    created = create_job(operator_api)
    assert_no_secret(json.dumps(created))
    detail = viewer_api.get(f"/api/v1/stream-jobs/{created['id']}")
    listing = viewer_api.get("/api/v1/stream-jobs")
    for response in (detail, listing):
        assert response.status_code == 200
        assert_no_secret(response.content.decode())
    assert detail.json()["outputs"][0]["url"] == SHOWN
    assert detail.json()["input_url"] == "rtmp://ingest.example/live/••••5678"


@pytest.mark.django_db
def test_output_and_input_urls_are_stored_encrypted(operator_api: APIClient) -> None:
    job_id = create_job(operator_api)["id"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT url FROM streams_streamoutput WHERE job_id = %s", [job_id])
        (stored_output,) = cursor.fetchone()
        cursor.execute("SELECT input_url FROM streams_streamjob WHERE id = %s", [job_id])
        (stored_input,) = cursor.fetchone()
    for stored in (stored_output, stored_input):
        assert_no_secret(stored)
        assert "rtmp://" not in stored
    job = StreamJob.objects.get(pk=job_id)
    assert (job.outputs.get().url, job.input_url) == (OUTPUT, INPUT)


@pytest.mark.django_db
def test_the_audit_log_shows_the_rtmp_url_with_its_key_masked(
    operator_api: APIClient, admin_api: APIClient
) -> None:
    job = create_job(operator_api)
    operator_api.patch(
        f"/api/v1/stream-jobs/{job['id']}",
        {"outputs": [{"kind": "rtmp", "url": OUTPUT + "0"}], "input_url": INPUT + "0"},
        format="json",
    )
    text = admin_api.get("/api/v1/audit?limit=100").content.decode()
    assert SHOWN in text and "live2/••••2340" in text
    assert_no_secret(text)


@pytest.mark.django_db
def test_sending_back_the_masked_url_keeps_the_stored_key(operator_api: APIClient) -> None:
    job = create_job(operator_api)
    response = operator_api.patch(
        f"/api/v1/stream-jobs/{job['id']}",
        {"outputs": job["outputs"], "input_url": job["input_url"]},
        format="json",
    )
    assert response.status_code == 200, response.content
    stored = StreamJob.objects.get(pk=job["id"])
    assert (stored.outputs.get().url, stored.input_url) == (OUTPUT, INPUT)


@pytest.mark.django_db
def test_the_command_preview_masks_the_key_in_the_path(operator_api: APIClient) -> None:
    job = create_job(operator_api)
    response = operator_api.post("/api/v1/ffmpeg/preview", {"job_id": job["id"]}, format="json")
    assert response.status_code == 200, response.content
    assert_no_secret(response.content.decode())
    assert "live2/••••1234" in response.json()["command"]


@pytest.mark.slow
@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_log_and_status_frames_mask_the_key_ffmpeg_echoes() -> None:
    # Nothing listens on the port: ffmpeg fails to open the output and names its URL.
    url = f"rtmp://127.0.0.1:{free_port()}/live2/{KEY}"
    job = await sync_to_async(job_with_outputs)(
        {"url": url, "stream_key": ""}, reconnect_max_attempts=0
    )
    viewer: Any = await sync_to_async(UserFactory)(role=Role.VIEWER)
    token = await sync_to_async(lambda: str(AccessToken.for_user(viewer)))()
    headers = [(b"origin", b"http://localhost"), (b"host", b"localhost")]
    logs = WebsocketCommunicator(
        application, f"/api/v1/ws/logs/{job.pk}?token={token}", headers=headers
    )
    status = WebsocketCommunicator(application, f"/api/v1/ws/status?token={token}", headers=headers)
    assert (await logs.connect())[0] and (await status.connect())[0]
    await sync_to_async(stream_job_start)(actor=None, job=job)
    thread = RunThread(await StreamRun.objects.aget(job=job))
    thread.start()
    await asyncio.to_thread(thread.join, 60)
    assert thread.result == ExitReason.FAILED

    frames: list[str] = []
    for ws in (logs, status):
        while not await ws.receive_nothing(timeout=1):
            frames.append(await ws.receive_from())
        await ws.disconnect()
    assert all(KEY not in frame for frame in frames)
    text = "\n".join(json.dumps(json.loads(frame), ensure_ascii=False) for frame in frames)
    assert "live2/••••1234" in text  # ffmpeg echoed the URL, masked
    assert KEY not in text
    run = await StreamRun.objects.aget(job=job)
    tail = json.dumps(run.log_tail, ensure_ascii=False)
    assert KEY not in tail and "live2/••••1234" in tail


def _schema_editor() -> Any:
    return SimpleNamespace(connection=connection)


@pytest.mark.django_db
def test_the_migration_encrypts_output_urls_written_in_clear() -> None:
    job = job_with_outputs({"url": OUTPUT, "stream_key": ""})
    output = job.outputs.get()
    with connection.cursor() as cursor:  # as the column held it before
        cursor.execute(
            "UPDATE streams_streamoutput SET url = %s WHERE id = %s", [OUTPUT, output.pk]
        )
    migration = import_module("apps.streams.migrations.0007_encrypt_output_urls")
    step = migration.Migration.operations[1]
    step.code(apps, _schema_editor())
    step.code(apps, _schema_editor())  # once encrypted, left alone
    with connection.cursor() as cursor:
        cursor.execute("SELECT url FROM streams_streamoutput WHERE id = %s", [output.pk])
        (stored,) = cursor.fetchone()
    assert KEY not in stored
    assert StreamOutput.objects.get(pk=output.pk).url == OUTPUT
    step.reverse_code(apps, _schema_editor())  # the way back
    with connection.cursor() as cursor:
        cursor.execute("SELECT url FROM streams_streamoutput WHERE id = %s", [output.pk])
        assert cursor.fetchone()[0] == OUTPUT


@pytest.mark.django_db
def test_the_migration_masks_path_keys_in_earlier_audit_entries_and_log_tails() -> None:
    job = job_with_outputs({"url": OUTPUT, "stream_key": ""})
    summary = [{"kind": "rtmp", "url": OUTPUT, "enabled": True}]
    entry = AuditEntry.objects.create(
        action="stream_job.update",
        changes={"outputs": [None, summary], "input_url": [None, INPUT]},
    )
    line = {"level": "error", "line": f"[error] Error opening output {OUTPUT}: refused"}
    run = StreamRun.objects.create(job=job, number=1, fencing_token=1, log_tail=[line])
    migration = import_module("apps.streams.migrations.0008_mask_rtmp_path_keys")
    migration.mask_audit_entries(apps, _schema_editor())
    migration.mask_log_tails(apps, _schema_editor())
    entry.refresh_from_db()
    run.refresh_from_db()
    assert entry.changes["outputs"][1][0]["url"] == SHOWN
    assert entry.changes["input_url"][1] == "rtmp://ingest.example/live/••••5678"
    assert run.log_tail[0]["line"] == f"[error] Error opening output {SHOWN}: refused"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_url_pasted_with_the_key_in_its_path_publishes_to_that_key(
    rtmp_server: RtmpServer,
) -> None:
    key = "pasted-key-0123456789"
    rtmp_server.allowed_keys.add(key)
    job = job_with_outputs({"url": f"{rtmp_server.app_url}/{key}", "stream_key": ""})
    stream_job_start(actor=None, job=job)
    thread = start_supervised(job)
    try:
        wait_until(lambda: (run_row(job).last_stats.get("frames") or 0) > 25, timeout=30)
        assert key in rtmp_server.publish_attempts
    finally:
        stream_job_stop(actor=None, job=job)
        thread.join(15)
    assert thread.result == ExitReason.STOPPED


@pytest.mark.django_db
def test_a_key_sent_in_a_url_is_redacted_from_the_web_processs_log(
    operator_api: APIClient, caplog: pytest.LogCaptureFixture
) -> None:
    key = "web-process-only-key-0451"  # not seen by this process before
    body = {
        "name": "logged",
        "input_kind": "url",
        "input_url": f"rtmp://ingest.example/live/{key}x",
        "profile": new_profile().pk,
        "outputs": [{"kind": "rtmp", "url": f"rtmp://a.example/live2/{key}"}],
    }
    assert operator_api.post("/api/v1/stream-jobs", body, format="json").status_code == 201
    logging.getLogger("castcore.tests").warning("publishing to %s and from %sx", key, key)
    assert key not in caplog.text
    assert "publishing to ••••0451 and from ••••451x" in caplog.text
