"""Publish sessions: nginx-rtmp's callbacks, the grace period, and the end of a publish.

A publish is authorised by `live_publish_start` (nginx's on_publish): the key names
the stream, a stream with a connected publisher refuses a second one, and the job
is started through the stream-job control services before nginx accepts. A drop
(`live_publish_done`) only marks the session disconnected: the same stream published
again within the grace period continues it. The end comes after the grace, from a
delayed task or from the reconciler, whichever runs first (a conditional update
lets exactly one of them end it): the job stops and the session closes. The run's
recording, once its worker has saved it, is linked to the session.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.http import HttpRequest
from django.utils import timezone

from apps.accounts.audit import audit_record
from apps.streams.live import conf, ingest
from apps.streams.live.models import LiveSession, LiveStream, ingest_key_digest
from apps.streams.live.paths import clear_hls_dir
from apps.streams.models import JobState, StreamJob, StreamRun
from apps.streams.services import stream_job_start, stream_job_stop
from castcore.api.errors import ApiError
from castcore.events import emit

logger = logging.getLogger(__name__)

# Job states in which a connected session's job must be started (again).
_IDLE_JOB_STATES = (JobState.STOPPED, JobState.FAILED)


class PublishRefused(Exception):
    """A publish CastCore refuses; `reason` is logged and answered (never the key)."""

    def __init__(self, reason: str, **params: Any) -> None:
        super().__init__(reason)
        self.reason = reason
        self.params = params


@dataclass(frozen=True)
class Publish:
    """An accepted publish: its stream, its session, and whether it continues one."""

    stream: LiveStream
    session: LiveSession
    continued: bool


def _grace_cutoff() -> Any:
    return timezone.now() - timedelta(seconds=conf.GRACE_SECONDS)


def _stream_for_key(key: str, stream_id: int | None = None) -> LiveStream | None:
    """The stream of `key`, or the stream `stream_id` (a publish whose key was checked
    another way: the SRT relay's signed name), locked."""
    streams = LiveStream.objects.select_for_update().exclude(ingest_key_digest="")
    if stream_id is not None:
        return streams.filter(pk=stream_id).first()
    if not key:
        return None
    return streams.filter(ingest_key_digest=ingest_key_digest(key)).first()


def _start_job(job: StreamJob) -> None:
    """Start the stream's job; refuse the publish if the job may not run.

    A job still stopping (the previous session just ended) is started by the
    reconciler once it has stopped: the publish is accepted meanwhile.
    """
    try:
        stream_job_start(actor=None, job=job)
    except ApiError as exc:
        job.refresh_from_db(fields=["state"])
        if exc.code == "stream_job.invalid_transition" and job.state == JobState.STOPPING:
            return
        raise PublishRefused("job_refused", code=exc.code) from None


def live_publish_start(
    *,
    key: str,
    protocol: str,
    address: str | None,
    client_id: str = "",
    stream_id: int | None = None,
) -> Publish:
    """Authorise a publish with `key`: open (or continue) its stream's session and start the job.
    `stream_id` instead of a key: a publish the caller authorised (the SRT relay's signature).

    Raises PublishRefused (nothing written, nothing started) for an unknown or revoked
    key, a stream whose publisher is connected now, or a job that may not start.
    """
    with transaction.atomic():
        stream = _stream_for_key(key, stream_id)
        if stream is None:
            raise PublishRefused("unknown_key")
        session = (
            LiveSession.objects.select_for_update()
            .filter(stream=stream, ended_at__isnull=True)
            .first()
        )
        if session is not None and session.disconnected_at is None:
            raise PublishRefused("already_live", stream=stream.pk)
        if session is not None and session.disconnected_at <= _grace_cutoff():
            _end(session)  # its grace is over; the delayed end has not run yet
            session = None
        _start_job(stream.job)
        continued = session is not None
        if session is not None:
            session.disconnected_at = None
            session.reconnects = F("reconnects") + 1
            session.publisher_client_id = client_id
            session.publisher_address = address
            session.protocol = protocol
            session.save(
                update_fields=[
                    "disconnected_at", "reconnects", "publisher_client_id",
                    "publisher_address", "protocol",
                ]
            )  # fmt: skip
            session.refresh_from_db(fields=["reconnects"])
        else:
            try:
                with transaction.atomic():
                    session = LiveSession.objects.create(
                        stream=stream,
                        protocol=protocol,
                        publisher_address=address,
                        publisher_client_id=client_id,
                    )
            except IntegrityError:  # another publish opened it first
                raise PublishRefused("already_live", stream=stream.pk) from None
        session_id, stream_id = session.pk, stream.pk
        if not continued:
            _announce("live_stream.started", stream, session)
            # A new session's playlists start at sequence 0, not after the last session's.
            transaction.on_commit(lambda: clear_hls_dir(stream_id))
        transaction.on_commit(lambda: _read_inbound_later(session_id))
    logger.info(
        "live stream %s: publish accepted (%s, session %s%s)",
        stream.pk, protocol, session.pk, ", continued" if continued else "",
    )  # fmt: skip
    return Publish(stream=stream, session=session, continued=continued)


def _announce(event_type: str, stream: LiveStream, session: LiveSession) -> None:
    """live_stream.started / .ended for webhooks and notifications (no key, no address)."""
    emit(
        event_type,
        {
            "live_stream_id": stream.pk,
            "slug": stream.slug,
            "name": stream.name,
            "title": stream.display_title,
            "visibility": stream.visibility,
            "session_id": session.pk,
            "protocol": session.protocol,
            "started_at": session.started_at,
            "ended_at": session.ended_at,
            "reconnects": session.reconnects,
        },
        subject=f"live_stream:{stream.pk}",
    )


def _read_inbound_later(session_id: int) -> None:
    from workers.live_streams import read_live_session_inbound

    # nginx measures the inbound bitrate over a few seconds of the publish.
    read_live_session_inbound.apply_async(args=[session_id], countdown=3)


def _stream_for_name(name: str) -> LiveStream | None:
    """The stream a name nginx reports stands for: its internal name, or a key."""
    from apps.streams.live.srt import RELAY_PREFIX

    stream_id = ingest.stream_id_of_internal_name(name)
    if stream_id is None and name.startswith(RELAY_PREFIX) and name[len(RELAY_PREFIX) :].isdigit():
        stream_id = int(name[len(RELAY_PREFIX) :])  # the SRT relay's name (before the rename)
    if stream_id is not None:
        return LiveStream.objects.filter(pk=stream_id).first()
    if not name:
        return None
    return LiveStream.objects.filter(ingest_key_digest=ingest_key_digest(name)).first()


def live_publish_done(*, name: str, client_id: str = "") -> LiveSession | None:
    """The publisher `client_id` of `name` left: its session waits the grace period.

    Only the publisher that holds the session disconnects it: a refused second
    publisher (or a stale callback) changes nothing. None when nothing changed.
    """
    stream = _stream_for_name(name)
    if stream is None:
        return None
    sessions = LiveSession.objects.filter(
        stream=stream, ended_at__isnull=True, disconnected_at__isnull=True
    )
    if client_id:
        sessions = sessions.filter(publisher_client_id=client_id)
    session = sessions.first()
    if session is None or not sessions.filter(pk=session.pk).update(disconnected_at=timezone.now()):
        return None
    session.refresh_from_db()
    _end_after_grace_later(session.pk)
    # The job's ffmpeg ends its process cleanly (its recording segment saved) and, by its
    # reconnect policy, waits for the publisher's return with a fresh one.
    _after_commit_drop(stream.pk, "subscribers")
    logger.info("live stream %s: publisher left, session %s waits", stream.pk, session.pk)
    return session


def _end_after_grace_later(session_id: int) -> None:
    from workers.live_streams import end_live_session

    def send() -> None:
        end_live_session.apply_async(args=[session_id], countdown=conf.GRACE_SECONDS + 0.5)

    transaction.on_commit(send)


def _end(session: LiveSession, *, at: Any = None) -> bool:
    """Close `session` (at its disconnection, or `at`) and stop its job; False if it was closed."""
    ended_at = F("disconnected_at") if at is None else at
    closed = LiveSession.objects.filter(pk=session.pk, ended_at__isnull=True).update(
        ended_at=ended_at
    )
    if not closed:
        return False
    job = StreamJob.objects.get(live_stream__pk=session.stream_id)
    stream_job_stop(actor=None, job=job)
    session.refresh_from_db()
    _announce("live_stream.ended", LiveStream.objects.get(pk=session.stream_id), session)
    _after_commit_drop(session.stream_id, "subscribers")
    logger.info("live stream %s: session %s ended", session.stream_id, session.pk)
    return True


@transaction.atomic
def live_session_end_after_grace(*, session_id: int) -> bool:
    """End a session whose publisher left more than the grace period ago; False otherwise
    (it returned, or the session is already closed)."""
    session = (
        LiveSession.objects.select_for_update()
        .filter(
            pk=session_id,
            ended_at__isnull=True,
            disconnected_at__isnull=False,
            disconnected_at__lte=_grace_cutoff(),
        )
        .first()
    )
    return session is not None and _end(session)


@transaction.atomic
def live_stream_stop(
    *, actor: Any, stream: LiveStream, request: HttpRequest | None = None
) -> LiveSession | None:
    """End the current publish now: the session closes, the job stops, nginx drops the
    publisher. None when nothing was live."""
    session = (
        LiveSession.objects.select_for_update().filter(stream=stream, ended_at__isnull=True).first()
    )
    if session is None or not _end(session, at=timezone.now()):
        return None
    session.refresh_from_db()
    audit_record(
        actor=actor,
        action="live_stream.stop",
        target=stream,
        changes={"session": [session.pk, None]},
        request=request,
    )
    if session.disconnected_at is None:  # RTMP, or the SRT relay (which then ends)
        _after_commit_drop(stream.pk, "publisher")
    return session


def _after_commit_drop(stream_id: int, who: str) -> None:
    """Disconnect the publisher or the players of a stream on nginx-rtmp, after the commit."""
    from apps.streams.live import nginx

    drop = nginx.drop_publisher if who == "publisher" else nginx.drop_subscribers

    def call() -> None:
        try:
            drop(ingest.internal_name(stream_id))
        except OSError as exc:
            # nginx is down or unreachable: its connections are gone, or go with it.
            logger.warning("live stream %s: could not drop its %s: %s", stream_id, who, exc)

    transaction.on_commit(call)


def live_sessions_publishers_lost() -> list[int]:
    """nginx-rtmp (re)started: every publisher it had (RTMP, and SRT through its relay) is
    gone, and said nothing. Their sessions wait the grace period, as after a drop."""
    sessions = LiveSession.objects.filter(ended_at__isnull=True, disconnected_at__isnull=True)
    ids = list(sessions.values_list("pk", flat=True))
    LiveSession.objects.filter(pk__in=ids, disconnected_at__isnull=True).update(
        disconnected_at=timezone.now()
    )
    for session_id in ids:
        _end_after_grace_later(session_id)
    return ids


@dataclass
class ReconcileResult:
    ended: list[int]
    started: list[int]
    lost: list[int] = field(default_factory=list)


# How long to look again before a connected session nginx does not list counts as lost:
# a publish accepted a moment ago is listed by nginx within milliseconds.
RELOOK_SECONDS = 1.0


def _not_publishing(connected: dict[int, int], publishing: dict[str, Any]) -> set[int]:
    """The sessions ({session: stream}) whose stream nginx does not list as publishing."""
    return {pk for pk, sid in connected.items() if ingest.internal_name(sid) not in publishing}


def live_sessions_unlisted_by_nginx() -> list[int]:
    """Mark disconnected the connected sessions whose publish nginx-rtmp does not have (it
    restarted in its own container, or a publish_done was lost): they wait the grace period
    as after a drop. Nothing when nginx does not answer."""
    from apps.streams.live.nginx import read_stat

    connected = dict(
        LiveSession.objects.filter(ended_at__isnull=True, disconnected_at__isnull=True)
        .values_list("pk", "stream_id")
    )  # fmt: skip
    if not connected:
        return []
    try:
        missing = _not_publishing(connected, read_stat())
        if missing:
            time.sleep(RELOOK_SECONDS)
            missing &= _not_publishing(connected, read_stat())
    except (OSError, SyntaxError):  # nginx away: its own supervisor or the health check's
        return []
    lost = []
    for session_id in sorted(missing):
        if LiveSession.objects.filter(
            pk=session_id, ended_at__isnull=True, disconnected_at__isnull=True
        ).update(disconnected_at=timezone.now()):
            _end_after_grace_later(session_id)
            lost.append(session_id)
    return lost


def live_sessions_reconcile() -> ReconcileResult:
    """Beat: end sessions past their grace (a delayed end lost with its worker), mark lost
    the connected ones nginx no longer has, and start the job of every connected session
    whose job is not running (it was stopping when the publisher returned, or gave up)."""
    result = ReconcileResult(ended=[], started=[])
    overdue = LiveSession.objects.filter(
        ended_at__isnull=True, disconnected_at__isnull=False, disconnected_at__lte=_grace_cutoff()
    ).values_list("pk", flat=True)
    for session_id in list(overdue):
        if live_session_end_after_grace(session_id=session_id):
            result.ended.append(session_id)
    result.lost = live_sessions_unlisted_by_nginx()
    connected = LiveSession.objects.filter(
        stream__job_id=OuterRef("pk"), ended_at__isnull=True, disconnected_at__isnull=True
    )
    idle = StreamJob.objects.filter(Exists(connected), state__in=_IDLE_JOB_STATES)
    for job in idle:
        try:
            stream_job_start(actor=None, job=job)
        except ApiError as exc:
            logger.warning("live job %s could not start: %s", job.pk, exc.code)
            continue
        result.started.append(job.pk)
    return result


def live_session_record_inbound(*, session_id: int, inbound: dict[str, Any]) -> bool:
    """Store what the encoder sends (nginx-rtmp's figures) on an open session."""
    fields = {name: value for name, value in inbound.items() if value not in (None, "")}
    if not fields:
        return False
    return bool(LiveSession.objects.filter(pk=session_id, ended_at__isnull=True).update(**fields))


def _sessions_of_run(job_id: int, run: StreamRun) -> Any:
    """The sessions a run of the job `job_id` may have recorded, latest first."""
    run_end = run.ended_at or timezone.now()
    return (
        LiveSession.objects.filter(stream__job_id=job_id)
        .filter(started_at__lte=run_end + timedelta(seconds=5))
        .filter(Q(ended_at__isnull=True) | Q(ended_at__gte=run.created_at - timedelta(seconds=5)))
        .order_by("-started_at")
    )


def live_session_recording_of_run(*, job_id: int, run: StreamRun) -> int | None:
    """The recording already linked to the session a run recorded: a later part of the
    same session (the publisher came back within the grace) is joined onto it."""
    session = _sessions_of_run(job_id, run).first()
    return session.recording_id if session is not None else None


def live_session_link_recording(*, job_id: int, run: StreamRun, recording: Any) -> bool:
    """Link a run's recording to the session it recorded (its first part: the later ones
    are joined onto it, runtime/recording.py)."""
    session = _sessions_of_run(job_id, run).filter(recording__isnull=True).first()
    if session is None:
        return False
    return bool(
        LiveSession.objects.filter(pk=session.pk, recording__isnull=True).update(
            recording=recording
        )
    )
