"""Turn a run's recording file into a recording row (apps.recordings) when its process ends."""

from __future__ import annotations

import logging
from pathlib import Path

from apps.streams.models import StreamJob, StreamRun
from workers.ffmpeg.probe import ProbeError, probe

logger = logging.getLogger(__name__)


def finish_recording(*, job: StreamJob, run: StreamRun, path: Path) -> None:
    """Hand a non-empty recording file to the recordings app; never raises into the supervisor."""
    if not path.is_file() or path.stat().st_size == 0:
        return
    duration, has_audio, has_video = None, True, True
    try:
        info = probe(path, timeout=30)
        duration, has_audio, has_video = info.duration, bool(info.audio_streams), info.has_video
    except ProbeError as exc:
        logger.warning(
            "recording %s of job %s could not be probed: %s", path.name, job.pk, exc.code
        )
    if _joined_to_its_session(job=job, run=run, path=path):
        return
    # Read now, not from the run's copy of the job: the owner may have changed while
    # it ran (a channel's job gets one when someone turns its recording on).
    fresh = StreamJob.objects.select_related("owner", "created_by").filter(pk=job.pk).first()
    owner = (fresh or job).owner or (fresh or job).created_by
    if owner is None:
        logger.warning("recording %s of job %s kept on disk: the job has no owner", path, job.pk)
        return
    try:
        from apps.recordings.services import recording_create_video
    except ImportError:
        logger.error(
            "apps.recordings has no recording_create_video yet; recording kept at %s", path
        )
        return
    try:
        recording = recording_create_video(
            owner=owner,
            file_path=path,
            title=f"{job.name} — run {run.number}",
            stream_job_id=job.pk,
            duration=duration,
            has_audio=has_audio,
            has_video=has_video,
        )
    except Exception:
        logger.exception(
            "recording %s of job %s could not be saved; the file stays at %s",
            path.name,
            job.pk,
            path,
        )
        return
    try:
        from apps.streams.live.services import live_session_link_recording

        # A live stream's run recorded a publish session: the session names its recording.
        live_session_link_recording(job_id=job.pk, run=run, recording=recording)
    except Exception:
        logger.exception("recording %s of job %s not linked to its session", recording.pk, job.pk)


def _joined_to_its_session(*, job: StreamJob, run: StreamRun, path: Path) -> bool:
    """A live session already recorded (its publisher dropped and came back): this part
    joins the session's recording, so the session has one recording row, not one per
    process segment. False when there is none, or the join failed (the part becomes a
    recording of its own, as before: nothing is lost)."""
    try:
        from apps.recordings.services import recording_append_video
        from apps.streams.live.services import live_session_recording_of_run

        recording_id = live_session_recording_of_run(job_id=job.pk, run=run)
        if recording_id is None:
            return False
        return recording_append_video(recording_id=recording_id, file_path=path) is not None
    except Exception:
        logger.exception("recording %s of job %s not joined to its session", path.name, job.pk)
        return False
