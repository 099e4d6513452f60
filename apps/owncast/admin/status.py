"""Owncast admin: status and broadcaster, disconnect, logs, viewers over time, hardware, YP.

Each reads or acts on the base's stream through the live app (sessions, viewer samples,
the stream job's runs): nothing here keeps state of its own, except the hardware
samples, which Owncast keeps over time and CastCore has nowhere else (hardware.py).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from apps.owncast import presenters, responses
from apps.owncast.admin import hardware, schema
from apps.owncast.admin.base import AdminView
from apps.streams.live.selectors import current_session
from apps.streams.live.services import live_stream_stop
from apps.streams.models import LiveSession, LiveStream, StreamRun, ViewerSample
from castcore.secrets import redact

TAGS = ["owncast admin"]

# Owncast's names of the codecs nginx-rtmp reports (FLV codec ids), as its status shows them.
CODEC_NAMES = {"H264": "H.264", "HEVC": "H.265", "H265": "H.265", "AV1": "AV1", "AAC": "AAC"}
# How far back viewers over time go (Owncast keeps what it sampled since it started).
VIEWERS_WINDOW = timedelta(hours=24)
# Log lines: the latest runs of the stream's job, at most this many lines in all.
LOG_RUNS, LOG_LINES = 5, 500
WARNING_LEVELS = frozenset({"warning", "error", "fatal", "panic"})


def _codec(name: str) -> str:
    return CODEC_NAMES.get(name.upper(), name)


def broadcaster(session: LiveSession | None) -> dict[str, Any] | None:
    """Owncast's Broadcaster: who publishes now and what its encoder sends (read from the
    real ingest by the live app: nginx-rtmp's statistics and ffprobe); null when offline."""
    if session is None or session.disconnected_at is not None:
        return None
    fps = round(session.fps) if session.fps is not None else 0
    return {
        "remoteAddr": session.publisher_address or "",
        "time": presenters.owncast_time(session.started_at),
        "streamDetails": {
            "width": session.width or 0,
            "height": session.height or 0,
            # Owncast's JSON says `framerate`; its 0.0.10 document says `frameRate`.
            "framerate": fps,
            "frameRate": fps,
            "videoBitrate": session.video_bitrate_kbps or 0,
            "videoCodec": _codec(session.video_codec),
            "audioBitrate": session.audio_bitrate_kbps or 0,
            "audioCodec": _codec(session.audio_codec),
            "encoder": session.encoder,
        },
    }


class StatusView(AdminView):
    """Server status and broadcaster (Owncast's admin.Status)."""

    @extend_schema(
        tags=TAGS, summary="Server status and broadcaster", responses={200: schema.AdminStatus}
    )
    def get(self, request: Request, slug: str | None = None) -> Response:
        stream = self.stream
        public = presenters.status(stream)
        return Response(
            {
                "broadcaster": broadcaster(current_session(stream)),
                "online": public["online"],
                "viewerCount": public["viewerCount"],
                "overallPeakViewerCount": public["overallMaxViewerCount"],
                "sessionPeakViewerCount": public["sessionMaxViewerCount"],
                "streamTitle": stream.title,
                "versionNumber": presenters.VERSION,
            }
        )


class DisconnectView(AdminView):
    """End the current publish: the live app's stop (session closed, job stopped, nginx
    drops the publisher)."""

    error_statuses = schema.REFUSED

    @extend_schema(
        tags=TAGS, summary="Disconnect Broadcaster", request=None, responses=schema.BASIC
    )
    def post(self, request: Request, slug: str | None = None) -> Response:
        session = live_stream_stop(actor=request.user, stream=self.stream, request=request)
        if session is None:
            return responses.simple_response(False, "no inbound stream connected")
        return responses.simple_response(True, "inbound stream disconnected")


class ViewersOverTimeView(AdminView):
    """The stream's viewer counts of the last day (its ViewerSample rows, oldest first)."""

    @extend_schema(
        tags=TAGS,
        summary="Viewers Over Time",
        responses={200: schema.AdminTimestampedValue(many=True)},
    )
    def get(self, request: Request, slug: str | None = None) -> Response:
        since = timezone.now() - VIEWERS_WINDOW
        samples = ViewerSample.objects.filter(stream=self.stream, at__gte=since).order_by("at")
        return Response(
            [
                {"time": presenters.owncast_time(at), "value": count}
                for at, count in samples.values_list("at", "count")
            ]
        )


class HardwareStatsView(AdminView):
    """CPU, memory and disk use of this host over the last hour (Owncast's hardware stats)."""

    @extend_schema(tags=TAGS, summary="Hardware Stats", responses={200: schema.AdminHardwareStats})
    def get(self, request: Request, slug: str | None = None) -> Response:
        self.stream  # noqa: B018 (an unknown base is the 404 of a missing path)
        return Response(hardware.hardware_stats())


def log_entries(stream: LiveStream) -> list[dict[str, Any]]:
    """The stream's log as Owncast's LogEntry list, oldest first: the lines of its job's
    latest runs (ffmpeg's and CastCore's own), every secret CastCore knows redacted.

    A run's tail keeps no time per line: each line gets its run's last write (heartbeat,
    or end), which is when the line was known by."""
    runs = StreamRun.objects.filter(job_id=stream.job_id).order_by("-number")[:LOG_RUNS]
    entries: list[dict[str, Any]] = []
    for run in reversed(list(runs)):
        at = presenters.owncast_time(run.ended_at or run.heartbeat_at or run.created_at)
        for line in run.log_tail or []:
            entries.append(
                {
                    "time": at,
                    "level": str(line.get("level") or "info"),
                    "message": redact(str(line.get("line") or "")),
                }
            )
    return entries[-LOG_LINES:]


class LogsView(AdminView):
    """Recent log entries of the stream's transcode (Owncast's GetLogs)."""

    @extend_schema(
        tags=TAGS,
        summary="Return recent log entries",
        responses={200: schema.AdminLogEntry(many=True)},
    )
    def get(self, request: Request, slug: str | None = None) -> Response:
        return Response(log_entries(self.stream))


class WarningsView(AdminView):
    """Recent warning and error entries of the stream's transcode (Owncast's GetWarnings)."""

    @extend_schema(
        tags=TAGS,
        summary="Return recent warning and error logs.",
        responses={200: schema.AdminLogEntry(many=True)},
    )
    def get(self, request: Request, slug: str | None = None) -> Response:
        entries = log_entries(self.stream)
        return Response([entry for entry in entries if entry["level"] in WARNING_LEVELS])


class YellowPagesResetView(AdminView):
    """Reset the directory registration: CastCore registers with no directory, so there
    is nothing to reset (Owncast answers success when it has no key either)."""

    @extend_schema(
        tags=TAGS, summary="Reset your YP registration key.", request=None, responses=schema.BASIC
    )
    def post(self, request: Request, slug: str | None = None) -> Response:
        self.stream  # noqa: B018
        return responses.simple_response(True, "reset")
