"""GET /api/v1/sse/preflight/{id} through the real ASGI application: replay, live, auth, 404."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import HttpCommunicator
from rest_framework_simplejwt.tokens import RefreshToken

from apps.streams.api import sse
from apps.streams.models import ReportKind, StreamReport
from apps.streams.services.report_requests import stream_report_request
from apps.streams.tests.factories import job_with_outputs
from castcore.asgi import application
from workers import preflight as tasks
from workers.ffmpeg.tests.rtmp_server import free_port

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


async def bearer(user: Any) -> list[tuple[bytes, bytes]]:
    token = str((await sync_to_async(RefreshToken.for_user)(user)).access_token)
    return [(b"authorization", f"Bearer {token}".encode())]


def parse_events(body: bytes) -> list[dict[str, Any]]:
    events = []
    for block in body.decode().split("\n\n"):
        fields: dict[str, Any] = {}
        for line in block.splitlines():
            key, _, value = line.partition(": ")
            if key in ("id", "event", "data"):
                fields[key] = json.loads(value) if key == "data" else value
        if "event" in fields:
            events.append(fields)
    return events


async def read_stream(
    path: str,
    headers: list[tuple[bytes, bytes]] = (),  # type: ignore[assignment]
    *,
    when_open: Callable[[], Awaitable[None]] | None = None,
    timeout: float = 60,
) -> tuple[int, dict[bytes, bytes], bytes]:
    """The whole response; `when_open` runs once the first body chunk (subscribed) is in."""
    http = HttpCommunicator(application, "GET", path, headers=[(b"host", b"localhost"), *headers])
    await http.send_input({"type": "http.request", "body": b"", "more_body": False})
    start = await http.receive_output(timeout)
    body, background = b"", None
    while True:
        message = await http.receive_output(timeout)
        body += message.get("body", b"")
        if when_open is not None and background is None:
            background = asyncio.ensure_future(when_open())
        if not message.get("more_body"):
            break
    if background is not None:
        await background
    return start["status"], dict(start["headers"]), body


@sync_to_async
def new_report(tmp_path: Path, **job: Any) -> StreamReport:
    outputs = job.pop("outputs", None) or [{"kind": "file", "url": str(tmp_path / "out.mkv")}]
    created = job_with_outputs(*outputs, **job)
    return stream_report_request(actor=created.owner, job=created, kind=ReportKind.PREFLIGHT)


@sync_to_async
def stored(report: StreamReport) -> StreamReport:
    report.refresh_from_db()
    return report


async def test_it_replays_a_finished_report(viewer_user: Any, tmp_path: Path) -> None:
    report = await new_report(tmp_path)
    await sync_to_async(tasks.run_preflight)(report.pk)
    status, headers, body = await read_stream(
        f"/api/v1/sse/preflight/{report.pk}", await bearer(viewer_user)
    )
    assert status == 200
    assert headers[b"Content-Type"].startswith(b"text/event-stream")
    events = parse_events(body)
    final = await stored(report)
    checks = [e for e in events if e["event"] == "check"]
    assert [c["data"] for c in checks] == final.checks
    assert [c["id"] for c in checks] == [str(i) for i in range(len(final.checks))]
    assert events[-1]["event"] == "done"
    assert events[-1]["data"]["overall"] == "green" == final.overall


async def test_it_streams_checks_live_until_done(
    viewer_user: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With the database re-read pushed far out, only live events can end the stream quickly.
    monkeypatch.setattr(sse, "POLL_SECONDS", 30.0)
    report = await new_report(
        tmp_path, outputs=[{"kind": "rtmp", "url": f"rtmp://127.0.0.1:{free_port()}/live"}]
    )

    async def run_task() -> None:
        await sync_to_async(tasks.run_preflight, thread_sensitive=False)(report.pk)

    started = time.monotonic()
    status, _, body = await read_stream(
        f"/api/v1/sse/preflight/{report.pk}", await bearer(viewer_user), when_open=run_task
    )
    assert status == 200
    assert time.monotonic() - started < 15
    events = parse_events(body)
    final = await stored(report)
    checks = [e["data"] for e in events if e["event"] == "check"]
    assert checks == final.checks  # each exactly once, in order, live or replayed
    assert "preflight.output_unreachable" in {c["code"] for c in checks}
    assert events[-1] == {
        "event": "done",
        "data": {"state": "done", "overall": "red", "kind": "preflight", "result": {}},
    }


async def test_last_event_id_resumes_after_it(viewer_user: Any, tmp_path: Path) -> None:
    report = await new_report(tmp_path)
    await sync_to_async(tasks.run_preflight)(report.pk)
    headers = [*await bearer(viewer_user), (b"last-event-id", b"2")]
    _, _, body = await read_stream(f"/api/v1/sse/preflight/{report.pk}", headers)
    ids = [e["id"] for e in parse_events(body) if e["event"] == "check"]
    assert ids[0] == "3"


async def test_a_token_in_the_query_string_is_accepted(viewer_user: Any, tmp_path: Path) -> None:
    from apps.accounts.services import api_token_create

    issued = await sync_to_async(api_token_create)(user=viewer_user, name="sse", read_only=True)
    report = await new_report(tmp_path)
    await sync_to_async(tasks.run_preflight)(report.pk)
    status, _, body = await read_stream(f"/api/v1/sse/preflight/{report.pk}?token={issued.raw}")
    assert status == 200
    assert parse_events(body)[-1]["event"] == "done"


async def test_anonymous_and_bad_tokens_get_401(tmp_path: Path) -> None:
    report = await new_report(tmp_path)
    for path in (
        f"/api/v1/sse/preflight/{report.pk}",
        f"/api/v1/sse/preflight/{report.pk}?token=cc_nope",
    ):
        status, _, body = await read_stream(path, [(b"accept", b"text/event-stream")])
        assert status == 401
        assert json.loads(body)["error"]["code"].startswith("auth.")


async def test_an_unknown_report_is_a_404_envelope(viewer_user: Any) -> None:
    status, _, body = await read_stream("/api/v1/sse/preflight/999999", await bearer(viewer_user))
    assert status == 404
    assert json.loads(body)["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    "last_id", ["³".encode("latin-1"), "²".encode("latin-1"), str(2**63).encode()]
)
async def test_a_last_event_id_that_is_no_ascii_number_is_no_500(
    viewer_user: Any, tmp_path: Path, last_id: bytes
) -> None:
    # "³" passed str.isdigit() and int() refused it: a 500. Not a number: from the start.
    report = await new_report(tmp_path)
    await sync_to_async(tasks.run_preflight)(report.pk)
    headers = [*await bearer(viewer_user), (b"last-event-id", last_id)]
    status, _, body = await read_stream(f"/api/v1/sse/preflight/{report.pk}", headers)
    assert status == 200
    ids = [e["id"] for e in parse_events(body) if e["event"] == "check"]
    assert ids[0] == "0"
