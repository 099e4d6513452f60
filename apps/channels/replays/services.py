"""Writes of replays: publish a finished recording, change it, re-air it on a channel,
publish a draft later, delete it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from apps.accounts.audit import audit_record, update_audited
from apps.channels.replays.models import Replay
from apps.recordings.models import Recording, Visibility
from apps.recordings.services import recording_update
from castcore.api.errors import ApiError, Conflict

EDITABLE_FIELDS = ("title", "description", "visibility", "reair_channel", "reair_at")
REAIR_FIELDS = ("reair_channel", "reair_at")
#: What the guide entry of a re-air shows: a change rebuilds the channel's playout.
AIRED_FIELDS = ("title", "description", *REAIR_FIELDS)
#: A recording shorter than this cannot be re-aired (the compiler's MIN_ITEM_SECONDS).
MIN_REAIR_SECONDS = 0.04
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


def _reair_end(replay: Replay) -> datetime | None:
    if replay.reair_at is None:
        return None
    return replay.reair_at + timedelta(seconds=replay.recording.duration or 0.0)


def replay_check_reair(replay: Replay, *, now: datetime, moved: bool) -> None:
    """The re-air of `replay` (its fields as set) can air, or an ApiError naming the field.

    A time without an offset is first read in the channel's zone (set here). `moved`:
    its channel or time changed, so it must be in the future and free on that channel.
    """
    channel, at = replay.reair_channel, replay.reair_at
    if channel is None and at is None:
        return
    if channel is None or at is None:
        missing = "reair_channel" if channel is None else "reair_at"
        raise ApiError("replay.reair_incomplete", {"field": missing})
    if at.tzinfo is None:
        replay.reair_at = at = at.replace(tzinfo=channel.zone)
    if (replay.recording.duration or 0.0) < MIN_REAIR_SECONDS:
        raise ApiError("replay.duration_unknown", {"field": "recording"})
    if not moved:
        return
    if at <= now:
        raise ApiError("replay.reair_in_past", {"field": "reair_at"})
    end = _reair_end(replay)
    others = Replay.objects.filter(reair_channel=channel, reair_at__lt=end).exclude(pk=replay.pk)
    for other in others.select_related("recording"):
        other_end = _reair_end(other)
        if other_end is not None and other_end > at:
            raise Conflict("replay.reair_overlaps", {"field": "reair_at", "replay": other.pk})


def replay_check(*, fields: dict[str, Any], replay: Replay | None = None) -> None:
    """Raise the API error a create (no `replay`; `fields` has the recording) or an update
    of `replay` with these fields would raise, changing nothing (the admin form uses it)."""
    now = timezone.now()
    if replay is None:
        _check_publishable(fields["recording"])
        candidate = Replay(recording=fields["recording"], reair_at=fields.get("reair_at"))
        candidate.reair_channel = fields.get("reair_channel")
        replay_check_reair(candidate, now=now, moved=True)
        return
    _reair_candidate(replay, dict(fields), now=now)


def _reair_candidate(replay: Replay, fields: dict[str, Any], *, now: datetime) -> Replay:
    """`replay`'s re-air as `fields` would leave it, checked; a time without an offset
    read in the channel's zone."""
    if "reair_channel" in fields and fields["reair_channel"] is None:
        fields.setdefault("reair_at", None)  # no channel: no re-air
    before = (replay.reair_channel, replay.reair_at)
    candidate = Replay(
        pk=replay.pk, recording=replay.recording, reair_at=fields.get("reair_at", before[1])
    )
    candidate.reair_channel = fields.get("reair_channel", before[0])
    if "reair_at" in fields or "reair_channel" in fields:
        moved = (candidate.reair_channel, candidate.reair_at) != before
        replay_check_reair(candidate, now=now, moved=moved)
    return candidate


def _rebuild_channels(*channels: Any) -> None:
    from apps.channels.services.playout import playout_request_rebuild

    playout_request_rebuild({c.pk for c in channels if c is not None})


def replay_create(
    *,
    actor: Any,
    recording: Recording,
    title: str = "",
    description: str = "",
    visibility: str = Visibility.PUBLIC,
    publish: bool = True,
    reair_channel: Any = None,
    reair_at: datetime | None = None,
    request: HttpRequest | None = None,
) -> Replay:
    """Publish a finished video recording as a replay (a draft when `publish` is false),
    optionally re-aired on a channel at a time."""
    _check_publishable(recording)
    replay = Replay(
        recording=recording,
        title=title or recording.title or recording.name or f"Replay {recording.pk}",
        description=description,
        visibility=visibility,
        published_at=timezone.now() if publish else None,
        owner=actor if getattr(actor, "is_authenticated", False) else None,
        reair_channel=reair_channel,
        reair_at=reair_at,
    )
    replay_check_reair(replay, now=timezone.now(), moved=True)
    try:
        with transaction.atomic():
            replay.save()
            audit_record(actor=actor, action="replay.create", target=replay, request=request)
            _open_recording_page(replay, actor=actor, request=request)
            _rebuild_channels(replay.reair_channel)
    except IntegrityError:
        # The one-to-one on the recording: it is a replay already (or became one meanwhile).
        raise Conflict("replay.already_exists", {"field": "recording"}) from None
    return replay


def replay_update(
    *, actor: Any, replay: Replay, request: HttpRequest | None = None, **changes: Any
) -> Replay:
    """Change the title, description, visibility or re-air (channel and time; both null:
    no re-air). A changed re-air, or the text of one, rebuilds the channels it touches."""
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"not editable: {sorted(unknown)}")
    fields = {
        name: "" if value is None and name not in REAIR_FIELDS else value
        for name, value in changes.items()
    }
    before_channel = replay.reair_channel
    candidate = _reair_candidate(replay, fields, now=timezone.now())
    if "reair_at" in fields:
        fields["reair_at"] = candidate.reair_at  # read in the channel's zone if it had no offset
    aired = any(
        name in AIRED_FIELDS and getattr(replay, name) != value for name, value in fields.items()
    )
    with transaction.atomic():
        update_audited(
            replay,
            fields,
            actor=actor,
            action="replay.update",
            request=request,
            also_save=["updated_at"],
        )
        _open_recording_page(replay, actor=actor, request=request)
        if aired:
            _rebuild_channels(before_channel, replay.reair_channel)
    return replay


def replay_delete(*, actor: Any, replay: Replay, request: HttpRequest | None = None) -> None:
    """Delete a replay (its recording stays); a re-air still to come leaves the playout."""
    channel = replay.reair_channel
    with transaction.atomic():
        audit_record(actor=actor, action="replay.delete", target=replay, request=request)
        replay.delete()
        _rebuild_channels(channel)


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
