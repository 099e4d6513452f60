"""Writes of the recordings app: create (upload, video), update, delete, retention.

The native API, the asciinema-compatible API, the legacy 2.x upload path, the
admin, manage.py and Celery all call these functions; none writes rows itself.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from apps.accounts.audit import audit_record, update_audited
from apps.accounts.models import AuditEntry, User
from apps.recordings import conf
from apps.recordings.asciicast import Asciicast, AsciicastInvalid, parse_asciicast
from apps.recordings.models import Recording, Visibility, new_url_token
from apps.system.models import GlobalSettings
from castcore.events import emit
from castcore.stopping import worker_stopping
from workers.ffmpeg.concat import JoinError, join_files
from workers.ffmpeg.playable import PlayableError, PlayableErrorCode, make_playable
from workers.ffmpeg.probe import ProbeError, ProbeResult, probe
from workers.ffmpeg.thumbnail import ThumbnailError, make_thumbnail

logger = logging.getLogger("castcore.recordings")

EDITABLE_FIELDS = ("title", "description", "visibility", "audio_url")


class UploadTooLarge(AsciicastInvalid):
    """The file is over conf.MAX_UPLOAD_BYTES (answered 413, not 422)."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            "asciicast.too_large", [{"line": 0, "message": f"the file is over {limit} bytes"}]
        )
        self.limit = limit


def default_visibility() -> str:
    return GlobalSettings.load().default_recording_visibility or Visibility.UNLISTED


def _storage_name(kind: str, token: str, suffix: str, now: datetime) -> str:
    return f"{conf.STORAGE_DIR}/{kind}/{now:%Y/%m}/{token}{suffix}"


def _delete_file_later(name: str) -> None:
    """Remove a stored file once the transaction that deleted its row commits."""

    def remove() -> None:
        try:
            default_storage.delete(name)
        except OSError:
            logger.warning("Could not delete recording file %s", name, exc_info=True)

    transaction.on_commit(remove)


# --- terminal recordings -------------------------------------------------------------


def recording_validate_upload(*, upload: IO[bytes], size: int | None) -> Asciicast:
    """Check an uploaded asciicast (size, header, every event line); rewinds the file."""
    if size is not None and size > conf.MAX_UPLOAD_BYTES:
        raise UploadTooLarge(conf.MAX_UPLOAD_BYTES)
    try:
        info = parse_asciicast(upload, max_bytes=conf.MAX_UPLOAD_BYTES)
    except AsciicastInvalid as exc:
        if exc.code == "asciicast.too_large":
            raise UploadTooLarge(conf.MAX_UPLOAD_BYTES) from None
        raise
    finally:
        upload.seek(0)
    return info


def recording_create_terminal(
    *,
    owner: User,
    upload: IO[bytes],
    size: int | None = None,
    title: str | None = None,
    visibility: str | None = None,
    actor: Any = None,
    request: HttpRequest | None = None,
) -> Recording:
    """Validate an asciicast file and store it as a new terminal recording.

    Raises AsciicastInvalid (422) or UploadTooLarge (413); nothing is written then.
    """
    info = recording_validate_upload(upload=upload, size=size)
    now = timezone.now()
    token = new_url_token()
    name = default_storage.save(_storage_name("terminal", token, ".cast", now), File(upload))
    try:
        with transaction.atomic():
            recording = Recording.objects.create(
                kind=Recording.Kind.TERMINAL,
                owner=owner,
                title=(title if title is not None else info.title or "")[:200],
                visibility=visibility or default_visibility(),
                url_token=token,
                file=name,
                size=default_storage.size(name),
                duration=round(info.duration, 6),
                created_at=now,
                status=Recording.Status.AVAILABLE,
                asciicast_version=info.version,
                cols=info.cols,
                rows=info.rows,
            )
            audit_record(
                actor=actor if actor is not None else owner,
                action="recording.create",
                target=recording,
                changes={"kind": [None, "terminal"], "size": [None, recording.size]},
                request=request,
            )
            announce_ready(recording)
    except BaseException:
        default_storage.delete(name)
        raise
    return recording


# --- video recordings (contract with apps.streams) ---------------------------------------


def recording_create_video(
    *,
    owner: User,
    file_path: Path,
    title: str,
    stream_job_id: int | None = None,
    duration: float | None = None,
    has_audio: bool = True,
    has_video: bool = True,
) -> Recording:
    """Move a finished video file into recordings storage and make it a recording."""
    source = Path(file_path)
    if not source.is_file():
        raise FileNotFoundError(str(source))
    now = timezone.now()
    token = new_url_token()
    name = _storage_name("video", token, source.suffix.lower() or ".mp4", now)
    target = Path(settings.MEDIA_ROOT) / name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(source), target)
    try:
        with transaction.atomic():
            recording = Recording.objects.create(
                kind=Recording.Kind.VIDEO,
                owner=owner,
                title=title[:200],
                visibility=default_visibility(),
                url_token=token,
                file=name,
                size=target.stat().st_size,
                duration=float(duration or 0.0),
                created_at=now,
                status=Recording.Status.AVAILABLE,
                name=source.stem[:200],
                has_audio=has_audio,
                has_video=has_video,
                stream_job_id=stream_job_id,
            )
            audit_record(
                actor=None,
                action="recording.create",
                target=recording,
                changes={"kind": [None, "video"], "stream_job_id": [None, stream_job_id]},
                source=AuditEntry.Source.SYSTEM,
            )
            announce_ready(recording)
            _dispatch_make_playable(recording.pk)
    except BaseException:
        shutil.move(str(target), source)  # give the caller its file back
        raise
    return recording


def recording_append_video(*, recording_id: int, file_path: Path) -> Recording | None:
    """Join a finished video file onto the end of a video recording (streams copied).

    For a recording made in parts (a live session whose publisher came back): one
    recording row, not one per part. The joined file gets a new storage name, so a
    playable copy of the old one still being made is discarded (_save_playable checks
    the name); the copy is made again. The part's file is removed once joined. None (the
    part's file untouched) when the row is gone or the join fails: the caller keeps the
    part as a recording of its own rather than losing it.
    """
    source = Path(file_path)
    if not source.is_file():
        raise FileNotFoundError(str(source))
    with transaction.atomic():
        recording = (
            Recording.objects.select_for_update()
            .filter(pk=recording_id, kind=Recording.Kind.VIDEO)
            .exclude(file="")
            .first()
        )
        if recording is None:
            return None
        old_name = recording.file.name
        name = _storage_name(
            "video", new_url_token(), Path(old_name).suffix or ".mkv", timezone.now()
        )
        target = Path(default_storage.path(name))
        try:
            join_files(
                [default_storage.path(old_name), source], target, ffmpeg=settings.FFMPEG_BINARY
            )
        except JoinError as exc:
            logger.warning("video recording %s: part not joined: %s", recording.pk, exc.code)
            return None
        try:
            duration = probe(target, timeout=30).duration
        except ProbeError:
            duration = None
        stale = [old_name, recording.playable_file.name, recording.poster.name]
        Recording.objects.filter(pk=recording.pk).update(
            file=name,
            size=target.stat().st_size,
            duration=round(duration, 3) if duration else recording.duration,
            playable_file="",
            playable_size=0,
            poster="",
            poster_size=0,
            playable_error="",
            updated_at=timezone.now(),
        )
        for stale_name in filter(None, stale):
            _delete_file_later(stale_name)
        transaction.on_commit(lambda: source.unlink(missing_ok=True))
        _dispatch_make_playable(recording.pk)
    recording.refresh_from_db()
    return recording


def announce_ready(recording: Recording) -> None:
    """recording.ready, in the transaction that made the recording available.

    No URL token in it: for an unlisted recording the token is the secret.
    """
    emit(
        "recording.ready",
        {
            "recording_id": recording.pk,
            "kind": recording.kind,
            "title": recording.title,
            "visibility": recording.visibility,
            "duration": recording.duration,
            "size": recording.size,
            "stream_job_id": recording.stream_job_id,
            "owner": recording.owner.get_username(),
        },
        subject=f"recording:{recording.pk}",
    )


def _dispatch_make_playable(recording_id: int) -> None:
    # After commit: the worker must find the row. Only the id travels.
    from workers.recordings import make_recording_playable

    transaction.on_commit(
        lambda: make_recording_playable.apply_async(args=[recording_id], queue="ffmpeg")
    )


def _resolution(info: ProbeResult) -> str:
    video = info.video_streams[0] if info.video_streams else None
    if video is None or not video.width or not video.height:
        return ""
    return f"{video.width}x{video.height}"


def recording_make_playable(*, recording_id: int) -> Recording | None:
    """Give a video recording its browser-playable copy and poster, and fill `resolution`.

    The copy is a fragmented MP4, remuxed where the codecs allow
    (workers/ffmpeg/playable.py); the poster is one frame ~10% in. The files are
    written next to the original and the row points at them in one conditional
    update: a recording deleted meanwhile gets no row back and leaves no files.
    A failure is recorded as `playable_error` (the page offers the download).
    Returns the updated recording, or None if no row changed (nothing to do, the
    recording deleted meanwhile, or the copy sent again to another worker).
    """
    recording = Recording.objects.filter(pk=recording_id, kind=Recording.Kind.VIDEO).first()
    if recording is None or not recording.file:
        return None
    source = Path(recording.file.path)
    changes: dict[str, Any] = {"playable_error": ""}
    try:
        info = probe(source, timeout=30)
    except ProbeError as exc:
        logger.warning("video recording %s could not be probed: %s", recording.pk, exc.code)
        return _save_playable(recording, {"playable_error": exc.code}, made=[])
    changes["resolution"] = _resolution(info)
    if not recording.duration and info.duration:
        changes["duration"] = round(info.duration, 3)
    base = str(Path(recording.file.name).with_suffix(""))
    playable_name, poster_name = f"{base}.playable.mp4", f"{base}.poster.jpg"
    made: list[str] = []
    try:
        make_playable(
            source,
            default_storage.path(playable_name),
            info=info,
            ffmpeg=settings.FFMPEG_BINARY,
            should_stop=worker_stopping,
        )
    except PlayableError as exc:
        if exc.code == PlayableErrorCode.INTERRUPTED:
            # This worker is stopping (SIGTERM): the copy is made again, by another
            # worker or by this one once it is back, and the row is left as it was.
            logger.info(
                "video recording %s: stopping; its playable copy is sent again", recording.pk
            )
            _dispatch_make_playable(recording.pk)
            return None
        logger.warning("video recording %s: no playable copy: %s", recording.pk, exc.code)
        changes["playable_error"] = exc.code
    else:
        made.append(playable_name)
        changes["playable_file"] = playable_name
        changes["playable_size"] = default_storage.size(playable_name)
    if info.has_video:
        video = info.video_streams[0]
        try:
            make_thumbnail(
                source,
                default_storage.path(poster_name),
                duration=info.duration,
                width=min(conf.POSTER_MAX_WIDTH, video.width or conf.POSTER_MAX_WIDTH),
            )
        except ThumbnailError as exc:
            logger.warning("video recording %s: no poster: %s", recording.pk, exc.code)
        else:
            made.append(poster_name)
            changes["poster"] = poster_name
            changes["poster_size"] = default_storage.size(poster_name)
    return _save_playable(recording, changes, made=made)


def _save_playable(
    recording: Recording, changes: dict[str, Any], *, made: list[str]
) -> Recording | None:
    # The same original still: a row deleted (or its file replaced) meanwhile is left alone.
    updated = Recording.objects.filter(pk=recording.pk, file=recording.file.name).update(
        **changes, updated_at=timezone.now()
    )
    if updated != 1:
        for name in made:
            default_storage.delete(name)
        return None
    for name, value in changes.items():
        setattr(recording, name, value)
    return recording


PlayableProgressFn = Callable[[int, int, int, "Recording | None"], None]


def recordings_make_playable(
    *, ids: list[int], on_each: PlayableProgressFn | None = None
) -> list[Recording]:
    """Make the playable copy of these video recordings, in turn (manage.py).

    `on_each(number, total, recording_id, recording or None)` shows progress. The
    rows it changed are audited in one `recording.make_playable` entry with their
    ids; a run that changes nothing leaves no entry.
    """
    changed: list[Recording] = []
    for number, recording_id in enumerate(ids, start=1):
        recording = recording_make_playable(recording_id=recording_id)
        if recording is not None:
            changed.append(recording)
        if on_each is not None:
            on_each(number, len(ids), recording_id, recording)
    if changed:
        audit_record(
            actor=None,
            action="recording.make_playable",
            target_type="recordings.recording",
            changes={
                "ids": [None, [r.pk for r in changed]],
                "failed": [None, [r.pk for r in changed if r.playable_error]],
            },
        )
    return changed


# --- updates and deletion -----------------------------------------------------------------


def update_editable(
    instance: Any,
    changes: dict[str, Any],
    *,
    editable: Any,
    actor: Any,
    action: str,
    request: HttpRequest | None,
) -> None:
    """Apply user-editable text attributes (None clears to ""), audited."""
    unknown = set(changes) - set(editable)
    if unknown:
        raise TypeError(f"not editable: {sorted(unknown)}")
    update_audited(
        instance,
        {name: "" if value is None else value for name, value in changes.items()},
        actor=actor,
        action=action,
        request=request,
        also_save=["updated_at"],
    )


def recording_update(
    *, recording: Recording, actor: Any, request: HttpRequest | None = None, **changes: Any
) -> Recording:
    """Change the editable attributes (title, description, visibility, audio_url)."""
    update_editable(
        recording,
        changes,
        editable=EDITABLE_FIELDS,
        actor=actor,
        action="recording.update",
        request=request,
    )
    return recording


def recording_delete(
    *,
    recording: Recording,
    actor: Any,
    request: HttpRequest | None = None,
    source: str | None = None,
) -> None:
    """Delete the row, and its file once the deletion commits."""
    with transaction.atomic():
        audit_record(
            actor=actor, action="recording.delete", target=recording, request=request, source=source
        )
        # The row as it is now, locked: a playable copy saved since `recording` was
        # loaded is deleted too, and one being saved waits, then finds no row.
        current = Recording.objects.select_for_update().filter(pk=recording.pk).first()
        names = (current or recording).stored_names
        recording.delete()
        for name in names:
            _delete_file_later(name)


# --- retention of unclaimed recordings ---------------------------------------------------------


@dataclass
class CleanupReport:
    hidden: list[int] = field(default_factory=list)
    deleted: list[int] = field(default_factory=list)
    freed_bytes: int = 0
    temporary_users_deleted: int = 0

    def __bool__(self) -> bool:
        return bool(self.hidden or self.deleted or self.temporary_users_deleted)


def recordings_cleanup_unclaimed(
    *, now: datetime | None = None, source: str = AuditEntry.Source.SYSTEM
) -> CleanupReport:
    """Hide unclaimed recordings after H days and delete them (files too) after D days.

    Unclaimed means owned by a temporary account (an install ID nobody linked
    yet). Temporary accounts left with nothing past the deadline go as well.
    """
    now = now or timezone.now()
    config = GlobalSettings.load()
    hide_before = now - timedelta(days=config.unclaimed_hide_after_days)
    delete_before = now - timedelta(days=config.unclaimed_delete_after_days)
    report = CleanupReport()
    with transaction.atomic():
        to_hide = Recording.objects.unclaimed().filter(
            hidden_at__isnull=True, created_at__lte=hide_before
        )
        report.hidden = list(to_hide.values_list("id", flat=True))
        Recording.objects.filter(id__in=report.hidden).update(hidden_at=now)

        doomed = (
            Recording.objects.unclaimed().filter(created_at__lte=delete_before).select_for_update()
        )
        for recording in doomed:
            report.deleted.append(recording.pk)
            report.freed_bytes += recording.stored_bytes  # its playable copy and poster too
            for name in recording.stored_names:
                _delete_file_later(name)
        Recording.objects.filter(id__in=report.deleted).delete()
        # Hidden then deleted in one run: report it once, as deleted.
        report.hidden = [pk for pk in report.hidden if pk not in set(report.deleted)]

        empty = User.objects.filter(
            is_temporary=True, date_joined__lte=delete_before, recordings__isnull=True
        )
        report.temporary_users_deleted = (
            User.objects.filter(id__in=list(empty.values_list("id", flat=True)))
            .delete()[1]
            .get("accounts.User", 0)
        )
        if report:
            audit_record(
                actor=None,
                action="recording.cleanup",
                target_type="recordings.recording",
                changes={
                    "hidden": report.hidden,
                    "deleted": report.deleted,
                    "temporary_users_deleted": report.temporary_users_deleted,
                },
                source=source,
            )
    return report
