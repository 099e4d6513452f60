"""Channel and schedule block writes; each change that alters what airs rebuilds the playout."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from django.db import transaction
from django.http import HttpRequest

from apps.accounts.audit import audit_record, diff_changes, snapshot
from apps.channels.models import (
    ALL_WEEKDAYS,
    BlockMode,
    Channel,
    ChannelMode,
    ChannelOutput,
    ChannelPlayer,
    ScheduleBlock,
)
from apps.channels.play.services import (
    channel_jobs_forget,
    channel_outputs_changed,
    channel_start,
    channel_stop,
)
from apps.channels.services.playout import playout_request_rebuild
from apps.media.models import AssetKindChoice
from castcore.addresses import address_policy
from castcore.api.errors import ApiError, Conflict
from workers.ffmpeg.addresses import refused_address

#: Channel fields whose change alters the compiled playout.
PLAYOUT_FIELDS = frozenset({"time_zone", "filler_playlist", "filler_asset"})
_LOGO_KINDS = (AssetKindChoice.LOGO, AssetKindChoice.THUMBNAIL)
_OUTPUT_SECRETS = {"stream_key"}


def check_time_zone(name: str) -> str:
    """An IANA zone name ("Europe/Paris"); anything zoneinfo cannot load is refused."""
    try:
        if name not in available_timezones():
            raise ZoneInfoNotFoundError(name)
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ApiError("channel.invalid_time_zone", {"field": "time_zone"}) from None
    return name


def _check_unique(fields: dict[str, Any], exclude: int | None) -> None:
    others = Channel.objects.exclude(pk=exclude) if exclude else Channel.objects.all()
    if "number" in fields and others.filter(number=fields["number"]).exists():
        raise Conflict("channel.number_taken", {"field": "number", "number": fields["number"]})
    if "slug" in fields and others.filter(slug__iexact=fields["slug"]).exists():
        raise Conflict("channel.slug_taken", {"field": "slug"})


def _check_assets(fields: dict[str, Any]) -> None:
    logo = fields.get("logo")
    if logo is not None and logo.kind not in _LOGO_KINDS:
        raise ApiError("channel.logo_not_an_image", {"field": "logo", "kind": logo.kind})
    slate = fields.get("filler_asset")
    if slate is not None and slate.kind != AssetKindChoice.SLATE:
        raise ApiError("channel.filler_not_a_slate", {"field": "filler_asset", "kind": slate.kind})


def _replace_outputs(channel: Channel, outputs: list[dict[str, Any]]) -> None:
    """Replace the restream outputs; an output sent with its id and no key keeps its key."""
    kept = {o.pk: o for o in channel.outputs.all()}
    rows = []
    for position, data in enumerate(outputs):
        previous = kept.get(data.get("id") or 0)
        key = data.get("stream_key")
        if key is None:
            key = previous.stream_key if previous else ""
        rows.append(
            ChannelOutput(
                channel=channel, position=position, name=data.get("name", ""),
                kind=data.get("kind", "rtmp"), url=data["url"], stream_key=key,
                enabled=data.get("enabled", True),
            )
        )  # fmt: skip
    channel.outputs.all().delete()
    ChannelOutput.objects.bulk_create(rows)


def _check_outputs(outputs: list[dict[str, Any]]) -> None:
    """Restream targets obey the address policy every connection CastCore makes obeys."""
    policy = address_policy()
    for index, output in enumerate(outputs):
        try:
            host = urlsplit(str(output.get("url", ""))).hostname or ""
        except ValueError:
            host = ""
        if not host:
            raise ApiError("channel.output_invalid_url", {"field": "outputs.url", "index": index})
        reason = refused_address(host, policy)
        if reason is not None:
            raise ApiError(
                "channel.output_address_not_allowed",
                {"field": "outputs.url", "index": index, "reason": reason},
            )


def channel_check(
    *,
    fields: dict[str, Any],
    channel: Channel | None = None,
    outputs: list[dict[str, Any]] | None = None,
) -> None:
    """Raise the API error a save of these fields would raise (the admin form uses it)."""
    if "time_zone" in fields or channel is None:
        check_time_zone(fields.get("time_zone", "UTC"))
    _check_unique(fields, channel.pk if channel else None)
    _check_assets(fields)
    if outputs:
        _check_outputs(outputs)


def channel_create(
    *,
    actor: Any,
    outputs: list[dict[str, Any]] | None = None,
    request: HttpRequest | None = None,
    **fields: Any,
) -> Channel:
    channel_check(fields=fields, outputs=outputs)
    with transaction.atomic():
        channel = Channel.objects.create(**fields)
        _replace_outputs(channel, outputs or [])
        audit_record(
            actor=actor,
            action="channel.create",
            target=channel,
            changes=diff_changes({}, snapshot(channel, fields)),
            request=request,
        )
        playout_request_rebuild([channel.pk])
    return channel


def channel_update(
    *,
    actor: Any,
    channel: Channel,
    outputs: list[dict[str, Any]] | None = None,
    request: HttpRequest | None = None,
    **fields: Any,
) -> Channel:
    """The number and guide id stay what clients know unless the number is changed here."""
    channel_check(fields=fields, channel=channel, outputs=outputs)
    with transaction.atomic():
        before = snapshot(channel, fields)
        for name, value in fields.items():
            setattr(channel, name, value)
        channel.save()
        changes = diff_changes(before, snapshot(channel, fields))
        if outputs is not None:
            _replace_outputs(channel, outputs)
            changes["outputs"] = ["…", f"{len(outputs)} output(s)"]
            channel_outputs_changed(actor=actor, channel=channel, request=request)
        audit_record(
            actor=actor, action="channel.update", target=channel, changes=changes, request=request
        )
        if PLAYOUT_FIELDS & set(fields):
            playout_request_rebuild([channel.pk])
        if "enabled" in fields and fields["enabled"] != before.get("enabled"):
            _play_as_enabled(channel, actor=actor, request=request)
    return channel


def _play_as_enabled(channel: Channel, *, actor: Any, request: HttpRequest | None) -> None:
    """A disabled channel stops playing; an always-on one enabled again starts."""
    if not channel.enabled:
        channel_stop(actor=actor, channel=channel, request=request)
    elif channel.mode == ChannelMode.ALWAYS_ON and channel.output_profile_id is not None:
        channel_start(actor=actor, channel=channel, request=request)


def channel_delete(*, actor: Any, channel: Channel, request: HttpRequest | None = None) -> None:
    """The channel goes and its job stops; the job is deleted once no worker runs it."""
    with transaction.atomic():
        audit_record(actor=actor, action="channel.delete", target=channel, request=request)
        job_ids = [
            pk
            for ids in ChannelPlayer.objects.filter(channel=channel).values_list(
                "job_id", "relay_job_id"
            )
            for pk in ids
            if pk is not None
        ]
        channel_stop(actor=actor, channel=channel, request=request)
        channel.delete()
        channel_jobs_forget(job_ids=job_ids)


def _check_block(fields: dict[str, Any], exclude: int | None) -> None:
    mode = fields["mode"]
    weekdays = fields.get("weekdays", ALL_WEEKDAYS)
    if not 1 <= weekdays <= ALL_WEEKDAYS:
        raise ApiError("schedule_block.invalid_weekdays", {"field": "weekdays"})
    if mode == BlockMode.DURATION and not fields.get("duration"):
        raise ApiError("validation.required", {"field": "duration"})
    if mode == BlockMode.COUNT and not fields.get("count"):
        raise ApiError("validation.required", {"field": "count"})
    clash = ScheduleBlock.objects.filter(
        channel=fields["channel"], start_time=fields["start_time"]
    ).exclude(pk=exclude or 0)
    for other in clash:
        if other.weekdays & weekdays:
            raise Conflict("schedule_block.time_taken", {"field": "start_time", "block": other.pk})


def _block_fields(block: ScheduleBlock | None, fields: dict[str, Any]) -> dict[str, Any]:
    merged = {
        name: getattr(block, name)
        for name in ("channel", "start_time", "weekdays", "mode", "duration", "count")
    } if block else {"weekdays": ALL_WEEKDAYS, "mode": BlockMode.FLOOD}  # fmt: skip
    merged.update(fields)
    # A mode's unused figure is cleared so it cannot come back when the mode changes.
    if merged.get("mode") != BlockMode.DURATION:
        merged["duration"] = None
    if merged.get("mode") != BlockMode.COUNT:
        merged["count"] = None
    return merged


def schedule_block_check(*, fields: dict[str, Any], block: ScheduleBlock | None = None) -> None:
    """Raise the API error a save of these fields would raise (the admin form uses it)."""
    _check_block(_block_fields(block, fields), block.pk if block else None)


def schedule_block_create(
    *, actor: Any, request: HttpRequest | None = None, **fields: Any
) -> ScheduleBlock:
    fields = _block_fields(None, fields)
    _check_block(fields, None)
    with transaction.atomic():
        block = ScheduleBlock.objects.create(**fields)
        audit_record(
            actor=actor,
            action="schedule_block.create",
            target=block,
            changes=diff_changes({}, snapshot(block, fields)),
            request=request,
        )
        playout_request_rebuild([block.channel_id])
    return block


def schedule_block_update(
    *, actor: Any, block: ScheduleBlock, request: HttpRequest | None = None, **fields: Any
) -> ScheduleBlock:
    if "channel" in fields and fields["channel"].pk != block.channel_id:
        raise ApiError("schedule_block.channel_fixed", {"field": "channel"})
    merged = _block_fields(block, fields)
    _check_block(merged, block.pk)
    with transaction.atomic():
        before = snapshot(block, merged)
        for name, value in merged.items():
            setattr(block, name, value)
        block.save()
        audit_record(
            actor=actor,
            action="schedule_block.update",
            target=block,
            changes=diff_changes(before, snapshot(block, merged)),
            request=request,
        )
        playout_request_rebuild([block.channel_id])
    return block


def schedule_block_delete(
    *, actor: Any, block: ScheduleBlock, request: HttpRequest | None = None
) -> None:
    with transaction.atomic():
        audit_record(actor=actor, action="schedule_block.delete", target=block, request=request)
        channel_id = block.channel_id
        block.delete()
        # Deleting leaves no updated_at to notice; the channel's own row records it.
        Channel.objects.filter(pk=channel_id).update(playout_compiled_at=None)
        playout_request_rebuild([channel_id])
