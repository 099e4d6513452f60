"""Writes of the streams app. Views, admin, commands and tasks all call these."""

from apps.streams.services.control import (
    stream_job_pause,
    stream_job_respawn,
    stream_job_respawn_replace,
    stream_job_restart,
    stream_job_start,
    stream_job_stop,
)
from apps.streams.services.jobs import (
    stream_job_create,
    stream_job_delete,
    stream_job_duplicate,
    stream_job_set_recording,
    stream_job_update,
    stream_job_validate,
)
from apps.streams.services.profiles import (
    ffmpeg_profile_create,
    ffmpeg_profile_delete,
    ffmpeg_profile_update,
    ffmpeg_profile_validate,
)
from apps.streams.services.report_requests import stream_report_request

__all__ = [
    "ffmpeg_profile_create",
    "ffmpeg_profile_delete",
    "ffmpeg_profile_update",
    "ffmpeg_profile_validate",
    "stream_job_create",
    "stream_job_delete",
    "stream_job_duplicate",
    "stream_job_pause",
    "stream_job_respawn",
    "stream_job_respawn_replace",
    "stream_job_restart",
    "stream_job_set_recording",
    "stream_job_start",
    "stream_job_stop",
    "stream_job_update",
    "stream_job_validate",
    "stream_report_request",
]
