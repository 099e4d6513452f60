"""Playlist writes: items checked (targets, in/out points, no cycles), channels rebuilt after."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import F, Max
from django.http import HttpRequest

from apps.accounts.audit import audit_record, diff_changes, snapshot
from apps.channels import conf
from apps.channels.models import Channel, ItemKind, Playlist, PlaylistItem, ScheduleBlock
from apps.channels.services.playout import channels_using_playlist, playout_request_rebuild
from apps.media.models import MediaItem, StorageSource
from castcore.api.errors import ApiError, Conflict


def _check_name(name: str, exclude: int | None = None) -> None:
    clash = Playlist.objects.filter(name__iexact=name)
    if exclude is not None:
        clash = clash.exclude(pk=exclude)
    if clash.exists():
        raise Conflict("playlist.name_taken", {"field": "name"})


def playlist_create(*, actor: Any, request: HttpRequest | None = None, **fields: Any) -> Playlist:
    _check_name(fields["name"])
    user = actor if getattr(actor, "is_authenticated", False) else None
    with transaction.atomic():
        playlist = Playlist.objects.create(created_by=user, **fields)
        audit_record(
            actor=actor,
            action="playlist.create",
            target=playlist,
            changes=diff_changes({}, snapshot(playlist, fields)),
            request=request,
        )
    return playlist


def playlist_update(
    *, actor: Any, playlist: Playlist, request: HttpRequest | None = None, **fields: Any
) -> Playlist:
    """A new order reshuffles what every channel airing it has not aired yet."""
    if "name" in fields:
        _check_name(fields["name"], exclude=playlist.pk)
    with transaction.atomic():
        before = snapshot(playlist, fields)
        for name, value in fields.items():
            setattr(playlist, name, value)
        playlist.save()
        audit_record(
            actor=actor,
            action="playlist.update",
            target=playlist,
            changes=diff_changes(before, snapshot(playlist, fields)),
            request=request,
        )
        if "order" in fields:
            playout_request_rebuild(channels_using_playlist(playlist))
    return playlist


def playlist_delete(*, actor: Any, playlist: Playlist, request: HttpRequest | None = None) -> None:
    """Refused while a schedule, a channel's filler or another playlist uses it."""
    blocks = ScheduleBlock.objects.filter(playlist=playlist).count()
    filler = Channel.objects.filter(filler_playlist=playlist).count()
    parents = PlaylistItem.objects.filter(child=playlist).count()
    if blocks or filler or parents:
        raise Conflict(
            "playlist.in_use",
            {"schedule_blocks": blocks, "filler_of_channels": filler, "in_playlists": parents},
        )
    with transaction.atomic():
        audit_record(actor=actor, action="playlist.delete", target=playlist, request=request)
        playlist.delete()


def _reaches(start: Playlist, target: Playlist) -> bool:
    """Whether `target` is `start` or nested anywhere inside it."""
    seen: set[int] = set()
    frontier = {start.pk}
    while frontier:
        if target.pk in frontier:
            return True
        seen |= frontier
        frontier = (
            set(
                PlaylistItem.objects.filter(
                    playlist_id__in=frontier, child__isnull=False
                ).values_list("child_id", flat=True)
            )
            - seen
        )
    return False


def _depth_below(playlist: Playlist) -> int:
    depth, frontier = 0, {playlist.pk}
    while frontier and depth <= conf.MAX_PLAYLIST_DEPTH:
        frontier = set(
            PlaylistItem.objects.filter(playlist_id__in=frontier, child__isnull=False).values_list(
                "child_id", flat=True
            )
        )
        depth += 1 if frontier else 0
    return depth


def _check_points(media: MediaItem | None, in_point: float | None, out_point: float | None) -> None:
    if in_point is None and out_point is None:
        return
    if media is None:
        raise ApiError("playlist_item.points_need_media", {"field": "in_point"})
    if in_point is not None and in_point < 0:
        raise ApiError("playlist_item.invalid_points", {"field": "in_point"})
    if out_point is not None and out_point <= (in_point or 0.0):
        raise ApiError("playlist_item.invalid_points", {"field": "out_point"})
    if media.duration is not None:
        for name, value in (("in_point", in_point), ("out_point", out_point)):
            if value is not None and value > media.duration + 1e-3:
                raise ApiError(
                    "playlist_item.point_past_end",
                    {"field": name, "duration": round(media.duration, 3)},
                )


def playlist_item_add(
    *,
    actor: Any,
    playlist: Playlist,
    kind: str,
    media_item: MediaItem | None = None,
    source: StorageSource | None = None,
    folder: str = "",
    child: Playlist | None = None,
    in_point: float | None = None,
    out_point: float | None = None,
    position: int | None = None,
    request: HttpRequest | None = None,
) -> PlaylistItem:
    """Append (or insert at `position`) one item; the channels airing the playlist rebuild."""
    folder = folder.strip().strip("/")
    if kind == ItemKind.MEDIA:
        if media_item is None:
            raise ApiError("validation.required", {"field": "media_item"})
        if media_item.missing:
            raise ApiError("media.missing", {"field": "media_item", "media_item": media_item.pk})
        source, folder, child = None, "", None
    elif kind in (ItemKind.FOLDER, ItemKind.SOURCE):
        if source is None:
            raise ApiError("validation.required", {"field": "source"})
        if kind == ItemKind.FOLDER and not folder:
            raise ApiError("validation.required", {"field": "folder"})
        if ".." in folder.split("/"):
            raise ApiError("playlist_item.invalid_folder", {"field": "folder"})
        media_item, child = None, None
        folder = folder if kind == ItemKind.FOLDER else ""
    elif kind == ItemKind.PLAYLIST:
        if child is None:
            raise ApiError("validation.required", {"field": "playlist"})
        if _reaches(child, playlist):
            raise Conflict("playlist.cycle", {"field": "playlist", "playlist": child.pk})
        if _depth_below(child) + 1 >= conf.MAX_PLAYLIST_DEPTH:
            raise ApiError("playlist.too_deep", {"max_depth": conf.MAX_PLAYLIST_DEPTH})
        media_item, source, folder = None, None, ""
    _check_points(media_item, in_point, out_point)
    with transaction.atomic():
        # Lock the playlist: two concurrent appends get distinct positions, and a
        # concurrent add of the reverse nesting waits and then sees the cycle.
        Playlist.objects.select_for_update().filter(pk=playlist.pk).first()
        if kind == ItemKind.PLAYLIST and child is not None and _reaches(child, playlist):
            raise Conflict("playlist.cycle", {"field": "playlist", "playlist": child.pk})
        last = PlaylistItem.objects.filter(playlist=playlist).aggregate(last=Max("position"))
        end = (last["last"] + 1) if last["last"] is not None else 0
        if position is None or position >= end:
            position = end
        else:
            PlaylistItem.objects.filter(playlist=playlist, position__gte=position).update(
                position=F("position") + 1
            )
        item = PlaylistItem.objects.create(
            playlist=playlist, position=position, kind=kind, media_item=media_item,
            source=source, folder=folder, child=child, in_point=in_point, out_point=out_point,
        )  # fmt: skip
        playlist.save(update_fields=["updated_at"])
        audit_record(
            actor=actor,
            action="playlist.item_add",
            target=playlist,
            changes={"item": [None, item.pk], "kind": [None, kind], "position": [None, position]},
            request=request,
        )
        playout_request_rebuild(channels_using_playlist(playlist))
    return item


def playlist_item_remove(
    *, actor: Any, item: PlaylistItem, request: HttpRequest | None = None
) -> None:
    playlist = item.playlist
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="playlist.item_remove",
            target=playlist,
            changes={"item": [item.pk, None]},
            request=request,
        )
        item.delete()
        playlist.save(update_fields=["updated_at"])
        playout_request_rebuild(channels_using_playlist(playlist))
