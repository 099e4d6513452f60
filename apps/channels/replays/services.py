"""Writes of replays: publish a finished recording, change it, publish a draft later."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from apps.accounts.audit import audit_record, update_audited
from apps.channels.replays.models import Replay
from apps.recordings.models import Recording, Visibility
from apps.recordings.services import recording_update
from castcore.api.errors import ApiError, Conflict

EDITABLE_FIELDS = ("title", "description", "visibility")
# A recording is finished when it holds its whole file: uploads and stopped runs.
FINISHED = (Recording.Status.AVAILABLE, Recording.Status.STOPPED)


def _check_publishable(recording: Recording) -> None:
    if recording.kind != Recording.Kind.VIDEO:
        raise ApiError("replay.recording_not_video", {"field": "recording"})
    if recording.status not in FINISHED or not recording.file or recording.is_hidden:
        raise Conflict(
            "replay.recording_not_finished",
            {"field": "recording", "status": recording.status},
        )


def _open_recording_page(replay: Replay, *, actor: Any, request: HttpRequest | None) -> None:
    """A replay others may see links to its recording's page by URL token: a private
    recording would refuse them, so it becomes unlisted (reachable by the token only)."""
    if not replay.is_published or replay.visibility == Visibility.PRIVATE:
        return
    recording = replay.recording
    if recording.visibility == Visibility.PRIVATE:
        recording_update(
            recording=recording, actor=actor, request=request, visibility=Visibility.UNLISTED
        )


def replay_create(
    *,
    actor: Any,
    recording: Recording,
    title: str = "",
    description: str = "",
    visibility: str = Visibility.PUBLIC,
    publish: bool = True,
    request: HttpRequest | None = None,
) -> Replay:
    """Publish a finished video recording as a replay (a draft when `publish` is false)."""
    _check_publishable(recording)
    try:
        with transaction.atomic():
            replay = Replay.objects.create(
                recording=recording,
                title=title or recording.title or recording.name or f"Replay {recording.pk}",
                description=description,
                visibility=visibility,
                published_at=timezone.now() if publish else None,
                owner=actor if getattr(actor, "is_authenticated", False) else None,
            )
            audit_record(actor=actor, action="replay.create", target=replay, request=request)
            _open_recording_page(replay, actor=actor, request=request)
    except IntegrityError:
        # The one-to-one on the recording: it is a replay already (or became one meanwhile).
        raise Conflict("replay.already_exists", {"field": "recording"}) from None
    return replay


def replay_update(
    *, actor: Any, replay: Replay, request: HttpRequest | None = None, **changes: Any
) -> Replay:
    """Change the title, description or visibility."""
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"not editable: {sorted(unknown)}")
    with transaction.atomic():
        update_audited(
            replay,
            {name: "" if value is None else value for name, value in changes.items()},
            actor=actor,
            action="replay.update",
            request=request,
            also_save=["updated_at"],
        )
        _open_recording_page(replay, actor=actor, request=request)
    return replay


def replay_publish(*, actor: Any, replay: Replay, request: HttpRequest | None = None) -> bool:
    """Publish a draft now: draft → published. False when it was published already."""
    now = timezone.now()
    with transaction.atomic():
        if (
            Replay.objects.filter(pk=replay.pk, published_at__isnull=True).update(published_at=now)
            != 1
        ):
            return False
        replay.published_at = now
        audit_record(
            actor=actor,
            action="replay.publish",
            target=replay,
            changes={"published_at": [None, now.isoformat()]},
            request=request,
        )
        _open_recording_page(replay, actor=actor, request=request)
    return True
