"""Writes of the media library: storage sources, mounts, items, thumbnails and assets.

Scans live in apps.media.scanning and are re-exported here, so every caller
(API, admin, manage.py, worker) imports services from one place.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

from django.db import transaction
from django.db.models import ProtectedError, Q, RestrictedError
from django.http import HttpRequest
from django.utils import timezone

from apps.accounts.audit import audit_record, diff_changes, snapshot
from apps.media import conf
from apps.media.codes import EXPLANATIONS, status_of, storage_api_error
from apps.media.models import (
    VIDEO_ASSET_KINDS,
    Asset,
    MediaItem,
    StorageSource,
)
from apps.media.probing import item_update, locate, probe_location
from apps.media.scanner import FileEntry
from apps.media.scanning import media_scan_check_active, media_scan_run, media_scan_start
from apps.media.storage.base import CheckResult, StorageError
from apps.media.storage.mounting import MountStatus, mount_source, mount_status, unmount_source
from apps.media.usage import asset_usages
from apps.media.validation import AssetKind, AssetRejected, validate_asset
from castcore.api.errors import ApiError, Conflict
from castcore.api.schema import error_statuses_for
from workers.ffmpeg.probe import ProbeError
from workers.ffmpeg.thumbnail import ThumbnailError, ThumbnailErrorCode, make_thumbnail

__all__ = [
    "asset_delete", "asset_upload", "media_item_probe", "media_scan_run", "media_scan_start",
    "media_thumbnail", "storage_source_create", "storage_source_delete", "storage_source_mount",
    "storage_source_mount_status", "storage_source_test", "storage_source_unmount",
    "storage_source_update",
]  # fmt: skip

SECRET_FIELDS = ("password", "secret_key", "access_key")
#: Fields that say *where* the files are: changing one invalidates the scan index.
LOCATION_FIELDS = frozenset(
    {"kind", "path", "host", "port", "share", "export", "endpoint_url", "bucket", "prefix"}
)


# --- storage sources -----------------------------------------------------------------


def storage_source_create(
    *, actor: Any, request: HttpRequest | None = None, **fields: Any
) -> StorageSource:
    with transaction.atomic():
        source = StorageSource.objects.create(**fields)
        audit_record(
            actor=actor, action="storage_source.create", target=source, request=request,
            changes=diff_changes({}, fields, secret_fields=SECRET_FIELDS),
        )  # fmt: skip
    return source


def storage_source_update(
    *, source: StorageSource, actor: Any, request: HttpRequest | None = None, **fields: Any
) -> StorageSource:
    before = snapshot(source, fields)
    for name, value in fields.items():
        setattr(source, name, value)
    changes = diff_changes(before, fields, secret_fields=SECRET_FIELDS)
    if LOCATION_FIELDS & changes.keys():
        # The folder records describe another place now; the rows still decide what
        # is unchanged, and the next scan marks files of the old place missing.
        source.scan_index = {}
    with transaction.atomic():
        source.save()
        audit_record(
            actor=actor, action="storage_source.update", target=source, request=request,
            changes=changes,
        )  # fmt: skip
    return source


def _jobs_reading(source: StorageSource) -> list[int]:
    """Ids of the stream jobs that play one of the source's items or one of its folders."""
    # Through the reverse relation: the media app does not import the streams app.
    jobs = source.stream_jobs.model.objects.filter(
        Q(input_media_source=source) | Q(input_media_item__source=source)
    )
    return sorted(set(jobs.values_list("pk", flat=True)))


def storage_source_delete(
    *, source: StorageSource, actor: Any, request: HttpRequest | None = None
) -> None:
    """409 `storage_source.in_use` {jobs} while a stream job reads from it."""
    if jobs := _jobs_reading(source):
        raise Conflict("storage_source.in_use", {"jobs": jobs})
    media_scan_check_active(source=source)
    if source.is_mounted_kind and _status(source).mounted:
        try:
            unmount_source(base_dir=conf.MOUNT_DIR, source_id=source.pk, timeout=conf.MOUNT_TIMEOUT)
        except StorageError as exc:
            raise Conflict("mount.still_mounted", {"detail": exc.detail}) from exc
    thumbnails = conf.thumbnail_root() / str(source.pk)
    try:
        with transaction.atomic():
            audit_record(
                actor=actor, action="storage_source.delete", target=source, request=request
            )
            source.delete()
            transaction.on_commit(lambda: shutil.rmtree(thumbnails, ignore_errors=True))
    except ProtectedError:
        # A job started using it since the check above.
        raise Conflict("storage_source.in_use", {"jobs": _jobs_reading(source)}) from None


def storage_source_test(*, source: StorageSource) -> list[CheckResult]:
    """Reachable, credentials, listable, readable: each with a code when it fails."""
    try:
        backend = source.backend(timeout=conf.STORAGE_TEST_TIMEOUT)
    except StorageError as exc:
        return [CheckResult("reachable", False, exc.code, exc.detail)]
    return backend.test()


# --- mounts ----------------------------------------------------------------------------


def _status(source: StorageSource) -> MountStatus:
    return mount_status(base_dir=conf.MOUNT_DIR, source_id=source.pk)


def _require_mountable(source: StorageSource) -> None:
    if not source.is_mounted_kind:
        raise storage_api_error(
            StorageError("mount.not_mountable", f"{source.kind} sources are read without a mount")
        )


def storage_source_mount_status(*, source: StorageSource) -> MountStatus | None:
    """None for kinds that are never mounted."""
    return _status(source) if source.is_mounted_kind else None


def storage_source_mount(
    *, source: StorageSource, actor: Any, request: HttpRequest | None = None
) -> MountStatus:
    """Mount read-only into the managed directory; every tool call is time-bounded."""
    _require_mountable(source)
    config = source.config()
    try:
        status = mount_source(
            base_dir=conf.MOUNT_DIR, source_id=source.pk, config=config,  # type: ignore[arg-type]
            timeout=conf.MOUNT_TIMEOUT,
        )  # fmt: skip
    except StorageError as exc:
        raise storage_api_error(exc) from exc
    with transaction.atomic():
        StorageSource.objects.filter(pk=source.pk).update(mount_wanted=True)
        audit_record(actor=actor, action="storage_source.mount", target=source, request=request)
    return status


def storage_source_unmount(
    *, source: StorageSource, actor: Any, request: HttpRequest | None = None
) -> MountStatus:
    _require_mountable(source)
    try:
        status = unmount_source(
            base_dir=conf.MOUNT_DIR, source_id=source.pk, timeout=conf.MOUNT_TIMEOUT
        )
    except StorageError as exc:
        raise storage_api_error(exc) from exc
    with transaction.atomic():
        StorageSource.objects.filter(pk=source.pk).update(mount_wanted=False)
        audit_record(actor=actor, action="storage_source.unmount", target=source, request=request)
    return status


# --- media items -----------------------------------------------------------------------


def media_item_probe(*, item: MediaItem) -> MediaItem:
    """Probe one item now; a probe failure is recorded on the item, not raised."""
    source = item.source
    try:
        location = locate(source, item.relpath)
    except StorageError as exc:
        raise storage_api_error(exc) from exc
    size, mtime_ns = item.size, item.mtime_ns
    if location.protocol_whitelist == "file":
        st = os.stat(location.url_or_path)
        size, mtime_ns = st.st_size, st.st_mtime_ns
    try:
        outcome: Any = probe_location(location, timeout=float(source.probe_timeout))
    except ProbeError as exc:
        outcome = exc
    root = source.tree_root()
    fields = item_update(
        FileEntry(item.relpath, size, mtime_ns),
        outcome,
        timezone.now(),
        str(root) if root else None,
    )
    MediaItem.objects.filter(pk=item.pk).update(**fields)
    item.refresh_from_db()
    return item


_THUMBNAIL_STATUS = {
    ThumbnailErrorCode.NO_VIDEO: 404,
    ThumbnailErrorCode.NO_FRAME: 404,
    ThumbnailErrorCode.NOT_FOUND: 404,
    ThumbnailErrorCode.TIMEOUT: 504,
    ThumbnailErrorCode.UNAVAILABLE: 503,
    ThumbnailErrorCode.ADDRESS_NOT_ALLOWED: 403,
}
_THUMBNAIL_OTHERWISE = 422

#: For the schema: what media_thumbnail answers, storage errors of the item's source included.
THUMBNAIL_ERROR_STATUSES = error_statuses_for(
    {
        **{code: status_of(code) for code in EXPLANATIONS},
        **{code: _THUMBNAIL_STATUS.get(code, _THUMBNAIL_OTHERWISE) for code in ThumbnailErrorCode},
        "media.missing": 409,
    }
)


def media_thumbnail(*, item: MediaItem) -> Path:
    """The cached JPEG of a frame ~10% in; made by ffmpeg on first request only."""
    if item.missing:
        raise Conflict("media.missing", {"id": item.pk})
    if item.probed_at is not None and not item.video_codec:
        code = item.probe_error_code or "thumbnail.no_video"
        raise ApiError("thumbnail.no_video", {"probe_error": code}, status_code=404)
    relative = f"{conf.THUMBNAIL_DIR}/{item.source_id}/{item.pk}-{item.size}-{item.mtime_ns}.jpg"
    path = conf.media_root() / relative
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        # One ffmpeg per thumbnail even when a grid of clients asks at once.
        with open(path.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not path.is_file():
                _make_thumbnail(item, path)
    if item.thumbnail != relative:
        MediaItem.objects.filter(pk=item.pk).update(thumbnail=relative)
        item.thumbnail = relative
    return path


def _make_thumbnail(item: MediaItem, path: Path) -> None:
    try:
        location = locate(item.source, item.relpath)
    except StorageError as exc:
        raise storage_api_error(exc) from exc
    try:
        make_thumbnail(
            location.url_or_path, path, duration=item.duration, width=conf.THUMBNAIL_WIDTH,
            timeout=conf.THUMBNAIL_TIMEOUT,
            protocols=tuple(location.protocol_whitelist.split(",")),
        )  # fmt: skip
    except ThumbnailError as exc:
        status = _THUMBNAIL_STATUS.get(ThumbnailErrorCode(exc.code), _THUMBNAIL_OTHERWISE)
        raise ApiError(exc.code, {}, status_code=status) from exc


# --- assets ----------------------------------------------------------------------------

_ASSET_STATUS = {"asset.too_large": 413, "asset.type_not_allowed": 415, "asset.kind_mismatch": 415}


def asset_max_bytes(kind: str) -> int:
    return conf.ASSET_MAX_VIDEO_BYTES if kind in VIDEO_ASSET_KINDS else conf.ASSET_MAX_IMAGE_BYTES


def asset_upload(
    *, chunks: Any, declared_name: str, kind: str, name: str = "", actor: Any,
    request: HttpRequest | None = None,
) -> Asset:  # fmt: skip
    """Validate by content (streamed, size-capped), store the re-encoded file, add the row."""
    incoming = conf.asset_root() / ".incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    engine_kind = AssetKind.VIDEO if kind in VIDEO_ASSET_KINDS else AssetKind.IMAGE
    try:
        valid = validate_asset(
            chunks, declared_name=declared_name, kind=engine_kind, max_bytes=asset_max_bytes(kind),
            workdir=incoming, max_pixels=conf.ASSET_MAX_PIXELS,
        )  # fmt: skip
    except AssetRejected as exc:
        # Library messages may name our temp files; the uploader learns nothing from them.
        params = {
            k: v.replace(str(incoming), "<upload>") if isinstance(v, str) else v
            for k, v in exc.params.items()
        }
        raise ApiError(exc.code, params, status_code=_ASSET_STATUS.get(exc.code, 400)) from None
    relative = f"{conf.ASSET_DIR}/{valid.sha256[:2]}/{uuid.uuid4().hex}.{valid.ext}"
    dest = conf.media_root() / relative
    dest.parent.mkdir(parents=True, exist_ok=True)
    os.replace(valid.path, dest)
    dest.chmod(0o644)
    try:
        with transaction.atomic():
            asset = Asset.objects.create(
                kind=kind, name=(name or valid.name)[:120], file=relative, mime=valid.mime,
                width=valid.width, height=valid.height, duration=valid.duration,
                sha256=valid.sha256, size=valid.size,
                uploaded_by=actor if getattr(actor, "is_authenticated", False) else None,
            )  # fmt: skip
            audit_record(actor=actor, action="asset.create", target=asset, request=request)
    except BaseException:
        dest.unlink(missing_ok=True)  # no file without a row
        raise
    return asset


def asset_delete(*, asset: Asset, actor: Any, request: HttpRequest | None = None) -> None:
    """Delete an unused asset and its file; 409 `asset.in_use` otherwise."""
    usages = asset_usages(asset)
    if usages:
        raise Conflict("asset.in_use", {"used_by": usages})
    path = conf.media_root() / asset.file.name
    try:
        with transaction.atomic():
            audit_record(actor=actor, action="asset.delete", target=asset, request=request)
            asset.delete()
    except (ProtectedError, RestrictedError) as exc:
        blocking: Any = getattr(exc, "protected_objects", None) or getattr(
            exc, "restricted_objects", ()
        )
        users = sorted({obj._meta.label_lower for obj in blocking})
        raise Conflict("asset.in_use", {"used_by": {name: [] for name in users}}) from None
    transaction.on_commit(lambda: path.unlink(missing_ok=True))
