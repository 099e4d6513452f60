"""Media-library inputs: a job's item or folder, as something ffmpeg can open.

Resolved when a process starts (`resolve=True`), through the item's storage
backend: a local or mounted path, or an S3 presigned URL (fresh for every
process, so a reconnect hours later never uses an expired one). Saving and
starting a job only check the library rows (`resolve=False`): a share that is
not mounted yet, or a bucket that is slow, must not make the API call fail.
Every failure is a SpecError whose code is the storage code (`mount.not_mounted`,
`storage.not_found`, …) or `stream_job.media_missing`, so the API, the run log
and preflight report it the same way.
"""

from __future__ import annotations

import urllib.parse

from apps.media.models import MediaItem, StorageSource
from apps.media.storage.base import MediaLocation, StorageError, normalize_relpath
from apps.streams.models import InputKind, StreamJob
from workers.ffmpeg import spec as engine

MEDIA_MISSING = "stream_job.media_missing"
FOLDER_NEEDS_FILES = "stream_job.folder_needs_file_source"


def _placeholder(relpath: str) -> engine.FileInput:
    # Validation only: the real path or URL is known once the backend is asked.
    return engine.FileInput(path="/" + (relpath or "media"))


def _open(source: StorageSource, relpath: str) -> MediaLocation:
    if not source.enabled:
        raise engine.SpecError("storage.source_disabled", source=source.name)
    try:
        return source.backend().open_for_ffmpeg(relpath)
    except StorageError as exc:
        raise engine.SpecError(exc.code, source=source.name, detail=exc.detail) from None


def _as_input(
    location: MediaLocation, duration: float | None = None
) -> engine.FileInput | engine.UrlInput:
    if location.protocol_whitelist == "file":
        return engine.FileInput(path=location.url_or_path, duration_s=duration)
    return engine.UrlInput(url=location.url_or_path, recorded=True)  # a file in a bucket


def item_input(job: StreamJob, *, resolve: bool) -> engine.FileInput | engine.UrlInput:
    item: MediaItem | None = job.input_media_item
    if item is None:
        raise engine.SpecError("spec.media_required", field="input_media_item")
    if item.missing:
        raise engine.SpecError(MEDIA_MISSING, field="input_media_item", item=item.pk)
    if not resolve:
        return _placeholder(item.relpath)
    return _as_input(_open(item.source, item.relpath), item.duration)


def folder_items(source: StorageSource, folder: str) -> list[MediaItem]:
    """The folder's own (not its subfolders') present items, in name order."""
    prefix = f"{folder}/" if folder else ""
    rows = MediaItem.objects.filter(source=source, missing=False, relpath__startswith=prefix)
    items = [item for item in rows if "/" not in item.relpath[len(prefix) :]]
    return sorted(items, key=lambda item: (item.name, item.pk))


def folder_input(job: StreamJob, *, resolve: bool) -> engine.FileInput | engine.PlaylistInput:
    source: StorageSource | None = job.input_media_source
    if source is None:
        raise engine.SpecError("spec.media_required", field="input_media_source")
    try:
        folder = normalize_relpath(job.input_media_folder, "input_media_folder")
    except StorageError:
        raise engine.SpecError("spec.invalid_text", field="input_media_folder") from None
    items = folder_items(source, folder)
    if not items:
        raise engine.SpecError(MEDIA_MISSING, field="input_media_folder", folder=folder)
    if not resolve:
        return _placeholder(folder)
    paths = []
    for item in items:
        location = _open(source, item.relpath)
        if location.protocol_whitelist != "file":
            # The concat demuxer's safe mode reads local files only.
            raise engine.SpecError(FOLDER_NEEDS_FILES, source=source.name)
        paths.append(location.url_or_path)
    # The scanner's probed lengths: a resumed folder starts within its current pass.
    return engine.PlaylistInput(
        paths=tuple(paths), durations=tuple(item.duration for item in items)
    )


def media_input(job: StreamJob, *, resolve: bool) -> engine.InputSpec:
    if job.input_kind == InputKind.MEDIA_ITEM:
        return item_input(job, resolve=resolve)
    return folder_input(job, resolve=resolve)


def url_credentials(src: engine.InputSpec) -> tuple[str, ...]:
    """A presigned URL's query values (signature, credential, token) are bearer secrets."""
    if not isinstance(src, engine.UrlInput):
        return ()
    query = urllib.parse.urlsplit(src.url).query
    return tuple(value for _key, value in urllib.parse.parse_qsl(query) if len(value) >= 8)
