"""GET /api/v1/sse/preflight/{report_id}: a report's checks as Server-Sent Events.

Replays the checks already stored, then follows the live events of the
report's group until it is done. Each check is `event: check` with `id:` its
index, so a reconnecting EventSource (Last-Event-ID) resumes where it left
off; `event: progress` carries dry-run progress, `event: done` ends the
stream. Browsers' EventSource cannot set headers, so `?token=` is accepted
besides `Authorization: Bearer`.

The view is a sync DRF view (auth, RBAC and error envelopes as everywhere)
that returns an async iterator; under ASGI Django streams it from the event
loop, where it waits on the channel layer. The database is re-read every few
seconds too, so a lost event (or a worker on a layer we cannot hear) only
delays the stream, never stalls it.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.http import StreamingHttpResponse
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from apps.accounts.models import TOKEN_PREFIX
from apps.accounts.roles import Role
from apps.streams.models import StreamReport
from apps.streams.reports import FINISHED_STATES, report_group
from apps.streams.selectors import jobs_visible_to
from castcore.api.authentication import ApiTokenAuthentication, JWTAuthentication
from castcore.api.filters import parse_id
from castcore.events import release_channel

POLL_SECONDS = 2.0  # database re-read (and keep-alive comment) while no event arrives
MAX_STREAM_SECONDS = 900.0  # then the client reconnects with Last-Event-ID
RETRY_MS = 2000


class EventStreamRenderer(BaseRenderer):
    """Lets `Accept: text/event-stream` negotiate; errors still go out as JSON text."""

    media_type = "text/event-stream"
    format = "event-stream"

    def render(
        self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None
    ) -> bytes:
        return b"" if data is None else json.dumps(data).encode()


class QueryTokenAuthentication(BaseAuthentication):
    """`?token=<access JWT or cc_ token>`, for EventSource clients."""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        from apps.accounts.services import api_token_authenticate
        from castcore.api.authentication import authenticate_bearer

        raw = request.query_params.get("token")
        if not raw:
            return None
        if raw.startswith(TOKEN_PREFIX):
            token = api_token_authenticate(raw)
            if token is None:
                raise exceptions.AuthenticationFailed(code="auth.token_invalid")
            return token.user, token
        user = authenticate_bearer(raw)
        if user is None:
            raise exceptions.AuthenticationFailed(code="auth.token_invalid")
        return user, None

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class QueryTokenScheme(OpenApiAuthenticationExtension):
    target_class = "apps.streams.api.sse.QueryTokenAuthentication"
    name = "queryToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {"type": "apiKey", "in": "query", "name": "token"}


def sse_frame(event: str, data: Any, *, event_id: int | None = None) -> bytes:
    lines = [f"id: {event_id}"] if event_id is not None else []
    lines += [f"event: {event}", f"data: {json.dumps(data, separators=(',', ':'))}"]
    return ("\n".join(lines) + "\n\n").encode()


@database_sync_to_async
def _snapshot(report_id: int) -> dict[str, Any] | None:
    # database_sync_to_async hands the connection back after each read: a stream lasts
    # minutes, and a web process's pooled connections are for its requests.
    row = (
        StreamReport.objects.filter(pk=report_id)
        .values("state", "overall", "checks", "result", "kind")
        .first()
    )
    return dict(row) if row is not None else None


async def report_events(report_id: int, first_index: int = 0) -> AsyncIterator[bytes]:
    layer = get_channel_layer()
    channel = await layer.new_channel("sse.") if layer is not None else None
    group = report_group(report_id)
    if layer is not None and channel is not None:
        await layer.group_add(group, channel)  # before the first read: no gap between the two
    try:
        yield f"retry: {RETRY_MS}\n\n".encode()
        sent = first_index
        started = time.monotonic()
        while time.monotonic() - started < MAX_STREAM_SECONDS:
            snapshot = await _snapshot(report_id)
            if snapshot is None:
                return
            for index in range(sent, len(snapshot["checks"])):
                yield sse_frame("check", snapshot["checks"][index], event_id=index)
            sent = max(sent, len(snapshot["checks"]))
            if snapshot["state"] in FINISHED_STATES:
                done = {k: snapshot[k] for k in ("state", "overall", "kind", "result")}
                yield sse_frame("done", done)
                return
            async for frame, sent_after in _live(layer, channel, sent):
                sent = sent_after
                yield frame
            yield b": keep-alive\n\n"
    finally:
        if layer is not None and channel is not None:
            await layer.group_discard(group, channel)
            await release_channel(layer, channel)


async def _live(layer: Any, channel: str | None, sent: int) -> AsyncIterator[tuple[bytes, int]]:
    """Frames from live events until a gap, the end, or POLL_SECONDS of silence."""
    if layer is None or channel is None:
        await asyncio.sleep(POLL_SECONDS)
        return
    deadline = time.monotonic() + POLL_SECONDS
    while (remaining := deadline - time.monotonic()) > 0:
        try:
            message = await asyncio.wait_for(layer.receive(channel), remaining)
        except TimeoutError:
            return
        kind = message.get("type")
        if kind == "preflight.check":
            if message["index"] > sent:
                return  # missed one: the database has it
            if message["index"] == sent:
                sent += 1
                yield sse_frame("check", message["check"], event_id=message["index"]), sent
        elif kind == "preflight.progress":
            progress = {k: message.get(k) for k in ("out_time_s", "fps", "speed")}
            yield sse_frame("progress", progress), sent
        elif kind == "preflight.state":
            if message.get("state") in FINISHED_STATES:
                return  # the database holds the final checks and result
            yield sse_frame("state", {"state": message.get("state")}), sent


class PreflightEventsView(APIView):
    """Live progress of a preflight or dry-run report (Viewer)."""

    read_role = Role.VIEWER
    authentication_classes = [ApiTokenAuthentication, JWTAuthentication, QueryTokenAuthentication]
    renderer_classes = [JSONRenderer, EventStreamRenderer]

    @extend_schema(
        operation_id="sse_preflight_events",
        parameters=[
            OpenApiParameter(
                "token",
                OpenApiTypes.STR,
                OpenApiParameter.QUERY,
                required=False,
                description="Bearer credential for clients that cannot set headers.",
            ),
        ],
        responses={
            (200, "text/event-stream"): OpenApiResponse(
                OpenApiTypes.STR,
                description="`event: check` (id = index) for each check, `event: progress`, "
                "`event: state`, and a final `event: done` with state, overall and result.",
            )
        },
    )
    def get(self, request: Request, report_id: int) -> StreamingHttpResponse:
        visible = StreamReport.objects.filter(job__in=jobs_visible_to(request.user))
        if not visible.filter(pk=report_id).exists():
            raise exceptions.NotFound()
        last_id = parse_id(request.headers.get("Last-Event-ID", ""))
        first = 0 if last_id is None else last_id + 1
        response = StreamingHttpResponse(
            report_events(report_id, first), content_type="text/event-stream"
        )
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"  # nginx must not buffer the stream
        return response
