"""Where publishers send and where a live stream's job reads: the ingest URLs, in one place.

A publisher sends to rtmp://<public host>:<port>/<app>/<key>. nginx-rtmp asks CastCore
(on_publish); CastCore accepts by redirecting the publish to the stream's internal name
(`stream-<id>`), so the key never appears in the name the job pulls, in its argv or in
its logs. The job's input is that internal name on nginx-rtmp, as the workers reach it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from apps.streams.live import conf

if TYPE_CHECKING:
    from apps.streams.live.models import LiveStream
    from apps.streams.models import StreamJob

INTERNAL_PREFIX = "stream-"
_INTERNAL_NAME = re.compile(rf"^{INTERNAL_PREFIX}(\d+)$")


def internal_name(stream_id: int) -> str:
    return f"{INTERNAL_PREFIX}{stream_id}"


def stream_id_of_internal_name(name: str) -> int | None:
    """The stream id an internal name stands for; None for anything else (a key)."""
    match = _INTERNAL_NAME.match(name)
    return int(match.group(1)) if match else None


def internal_ingest_url(stream_id: int) -> str:
    """The job's input: the accepted publish on nginx-rtmp, as the workers reach it."""
    host = conf.RTMP_INTERNAL_HOST
    return f"rtmp://{host}:{conf.RTMP_PORT}/{conf.RTMP_APP}/{internal_name(stream_id)}"


def is_internal_ingest(job: StreamJob) -> bool:
    """True when `job` is a live stream's job reading exactly its own ingest.

    CastCore chose that address, not a user: it passes without the address policy's
    private/loopback rule (specs.input_spec_for), and nothing else does. A job whose
    URL was edited to any other address is checked as every job is.
    """
    if job.pk is None or not job.input_url:
        return False
    from apps.streams.live.models import LiveStream

    stream_id = LiveStream.objects.filter(job_id=job.pk).values_list("pk", flat=True).first()
    return stream_id is not None and job.input_url == internal_ingest_url(stream_id)


def rtmp_ingest_url() -> str:
    """What a publisher puts in OBS's "Server" field; the key goes in "Stream key"."""
    port = "" if conf.RTMP_PORT == 1935 else f":{conf.RTMP_PORT}"
    return f"rtmp://{conf.INGEST_PUBLIC_HOST}{port}/{conf.RTMP_APP}"


def srt_ingest_url(stream: LiveStream) -> str | None:
    """The SRT listener of `stream` (the key is its passphrase); None when SRT is off."""
    if not stream.srt_enabled or stream.srt_port is None:
        return None
    return f"srt://{conf.INGEST_PUBLIC_HOST}:{stream.srt_port}?mode=caller"
