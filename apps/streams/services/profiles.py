"""FFmpeg profile writes: every save is validated through the engine's ProfileSpec."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import HttpRequest

from apps.accounts.audit import audit_record, diff_changes, snapshot
from apps.streams.models import FFmpegProfile
from apps.streams.specs import as_api_error
from castcore.api.errors import ApiError, Conflict
from workers.ffmpeg.spec import SpecError


def ffmpeg_profile_validate(*, profile: FFmpegProfile) -> None:
    """Raise the API error a save of `profile` would raise (the admin form uses it)."""
    try:
        profile.to_spec()
    except SpecError as exc:
        raise as_api_error(exc) from None
    except ValueError:  # an unknown enum value that slipped past the serializer
        raise ApiError("spec.invalid_value") from None


def _check_name(name: str, exclude: int | None = None) -> None:
    clash = FFmpegProfile.objects.filter(name__iexact=name)
    if exclude is not None:
        clash = clash.exclude(pk=exclude)
    if clash.exists():
        raise Conflict("ffmpeg_profile.name_taken", {"field": "name"})


@transaction.atomic
def ffmpeg_profile_create(
    *, actor: Any, request: HttpRequest | None = None, **fields: Any
) -> FFmpegProfile:
    _check_name(fields["name"])
    profile = FFmpegProfile(
        created_by=actor if getattr(actor, "is_authenticated", False) else None, **fields
    )
    ffmpeg_profile_validate(profile=profile)
    profile.save()
    audit_record(
        actor=actor,
        action="ffmpeg_profile.create",
        target=profile,
        changes=diff_changes({}, snapshot(profile, fields)),
        request=request,
    )
    return profile


@transaction.atomic
def ffmpeg_profile_update(
    *, actor: Any, profile: FFmpegProfile, request: HttpRequest | None = None, **fields: Any
) -> FFmpegProfile:
    """Running jobs keep the settings they started with until their next start."""
    if "name" in fields:
        _check_name(fields["name"], exclude=profile.pk)
    before = snapshot(profile, fields)
    for name, value in fields.items():
        setattr(profile, name, value)
    ffmpeg_profile_validate(profile=profile)
    profile.save()
    audit_record(
        actor=actor,
        action="ffmpeg_profile.update",
        target=profile,
        changes=diff_changes(before, snapshot(profile, fields)),
        request=request,
    )
    return profile


@transaction.atomic
def ffmpeg_profile_delete(
    *, actor: Any, profile: FFmpegProfile, request: HttpRequest | None = None
) -> None:
    in_use = profile.jobs.count()
    if in_use:
        raise Conflict("ffmpeg_profile.in_use", {"jobs": in_use})
    audit_record(actor=actor, action="ffmpeg_profile.delete", target=profile, request=request)
    profile.delete()
