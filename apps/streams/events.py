"""Live events of stream jobs: group names and payload shapes (the contract for consumers).

Workers publish with castcore.events.publish_now; consumers (consumers.py,
metrics, bench) subscribe to these groups. Every payload is masked: no
stream key, URL password or passphrase ever appears in one.

Groups:
- `stream_job.<job_id>.logs`   StreamLogBatchEvent: parsed ffmpeg stderr lines (and
                               CastCore's own), several when they came in a burst;
                               each line keeps its own `at` (when it was parsed).
                               Lines travel JSON-encoded once, as the socket's frames:
                               a layer copies an event per member (the in-memory one
                               deep-copies it) and 200 sockets would each re-encode it.
- `stream_jobs.status`         StreamStatusEvent for every job: state changes at
                               once, progress throttled to ~1/s per job.
- `stream_job.<job_id>.status` the same StreamStatusEvent, for one job.
- `stream_job.<job_id>.control` StreamControlEvent: a nudge to the owning worker
                               to re-read the job row now (the row is the truth).
"""

from __future__ import annotations

import json
from typing import Literal, TypedDict

from castcore.events import group_name, publish, publish_now

STATUS_GROUP = "stream_jobs.status"


def logs_group(job_id: int) -> str:
    return group_name("stream_job", job_id, "logs")


def job_status_group(job_id: int) -> str:
    return group_name("stream_job", job_id, "status")


def control_group(job_id: int) -> str:
    return group_name("stream_job", job_id, "control")


class StreamLogEvent(TypedDict):
    type: Literal["stream.log"]
    job_id: int
    run_id: int
    at: str  # ISO 8601
    level: str  # workers.ffmpeg.logs.LogLevel value
    message: str
    component: str | None
    hint_code: str | None  # "ffmpeg.stream_key_rejected", …
    hint: str | None  # plain-language English default for hint_code
    line: str  # the whole masked line


class StreamLogBatchEvent(TypedDict):
    type: Literal["stream.log_batch"]
    job_id: int
    run_id: int
    # In the order ffmpeg wrote them: each a StreamLogEvent with type "log" (the client
    # frame of /api/v1/ws/logs), JSON-encoded (log_frame_json).
    frames: list[str]


def log_frame_json(line: StreamLogEvent) -> str:
    return json.dumps({**line, "type": "log"}, separators=(",", ":"))


class StreamStatusEvent(TypedDict):
    type: Literal["stream.status"]
    job_id: int
    run_id: int | None
    at: str
    state: str  # JobState value
    fps: float | None
    bitrate_kbps: float | None
    speed: float | None
    frames: int | None
    drops: int | None
    out_time_s: float | None
    reconnects: int
    health: int  # 0-100, workers.ffmpeg.health
    uptime_s: float | None


class StreamControlEvent(TypedDict):
    type: Literal["stream.control"]
    job_id: int
    # "stop" | "restart" | "pause" | "respawn" | "recording": a hint; the worker re-reads the row
    command: str


def publish_status(event: StreamStatusEvent, *, after_commit: bool = False) -> None:
    send = publish if after_commit else publish_now
    send([STATUS_GROUP, job_status_group(event["job_id"])], event)
