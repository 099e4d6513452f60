"""Celery tasks of live streams: thin wrappers that load ids and call apps.streams.live."""

from __future__ import annotations

import logging
from dataclasses import asdict

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(name="workers.live_streams.end_live_session", ignore_result=True)
def end_live_session(session_id: int) -> bool:
    """End a session whose publisher left, once its grace period is over.

    Sent with a countdown of the grace period when the publisher leaves. Not retried:
    a lost message (worker killed) is made up by the reconciler, and a publisher that
    returned in time makes this a no-op (the service's conditional update).
    """
    from apps.streams.live.services import live_session_end_after_grace

    return live_session_end_after_grace(session_id=session_id)


@shared_task(name="workers.live_streams.reconcile_live_sessions", ignore_result=True)
def reconcile_live_sessions() -> dict[str, list[int]]:
    """Beat task: end sessions past their grace, start the jobs of connected sessions."""
    from apps.streams.live.services import live_sessions_reconcile

    return asdict(live_sessions_reconcile())


@shared_task(name="workers.live_streams.read_live_session_inbound", ignore_result=True)
def read_live_session_inbound(session_id: int) -> bool:
    """Store the encoder's codec, size, rate and bitrate (nginx-rtmp's statistics) on a session.

    Best effort and not retried: nginx away or the publish already gone leaves the
    fields empty, and the next publish reads them again.
    """
    from apps.streams.live import ingest
    from apps.streams.live.models import LiveSession
    from apps.streams.live.nginx import probe_ingest, read_stat
    from apps.streams.live.sessions import live_session_record_inbound
    from workers.ffmpeg.probe import ProbeError

    stream_id = (
        LiveSession.objects.filter(pk=session_id).values_list("stream_id", flat=True).first()
    )
    if stream_id is None:
        return False
    try:
        figures = read_stat().get(ingest.internal_name(stream_id)) or {}
    except (OSError, SyntaxError) as exc:  # unreachable, or not its XML
        logger.warning("inbound figures of session %s not read: %s", session_id, exc)
        return False
    if not figures:
        return False
    try:
        figures.update(probe_ingest(stream_id))
    except ProbeError as exc:
        logger.warning("inbound of session %s not probed: %s", session_id, exc.code)
    return live_session_record_inbound(session_id=session_id, inbound=figures)
