"""A copy of live streams' HLS in S3-compatible storage, for a CDN to serve.

Optional, per instance: CASTCORE_LIVE_S3_SOURCE names an S3 storage source (apps.media:
its endpoint, bucket, prefix and encrypted keys, and its client, S3Backend). Public
streams only: a CDN serves whoever asks, so unlisted and private streams stay behind
CastCore's checks.

For each stream, `HlsMirror.sync` (run every quarter second by `manage.py
mirror_live_hls` on the host the transcode writes on) puts, in this order:
1. every segment a variant playlist lists that is not up yet (a listed segment is
   complete: hlsenc lists it after writing it);
2. then that playlist, once every segment it lists is up, so a player that reads it
   from the CDN never asks for a segment that is not there;
3. then the master, once every variant playlist it lists is up;
and deletes what hlsenc deleted (segments past the window). Playlists carry the
session on segment URIs, as CastCore's served ones do (delivery.with_query): a new
session numbers its segments from 0 again, and a CDN must not answer with the last
session's cached segment_00000.ts. A failed request is logged (StorageError: no
secrets) and retried at the next sync.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from django.conf import settings

from apps.streams.live import delivery, selectors
from apps.streams.live.models import LiveStream, LiveVisibility
from apps.streams.live.paths import hls_dir

logger = logging.getLogger(__name__)

SYNC_SECONDS = 0.25
STREAMS_REFRESH_SECONDS = 2.0


class Bucket(Protocol):
    """What the mirror needs of apps.media.storage.s3.S3Backend."""

    def put_file(
        self, relpath: str, body: bytes, *, content_type: str, cache_control: str
    ) -> None: ...

    def delete_files(self, relpaths: list[str]) -> None: ...


def _listed(playlist: str) -> list[str]:
    """The relative URIs a playlist lists (absolute ones are not files of this folder)."""
    uris = (line.strip() for line in playlist.splitlines() if not line.startswith("#"))
    return [uri for uri in uris if uri and "://" not in uri and not uri.startswith("/")]


@dataclass
class HlsMirror:
    """One stream's HLS folder, mirrored under `remote` (e.g. `live/12`) in a bucket."""

    folder: Path
    bucket: Bucket
    remote: str
    session_id: int | None = None
    uploaded: set[str] = field(default_factory=set)  # segments, as "variant/name"
    playlists: dict[str, str] = field(default_factory=dict)  # relpath -> text put

    def _put(self, relpath: str, body: bytes, content_type: str, cache_control: str) -> None:
        self.bucket.put_file(
            f"{self.remote}/{relpath}", body, content_type=content_type, cache_control=cache_control
        )

    def _put_playlist(self, relpath: str, text: str, *, media: bool) -> None:
        if self.playlists.get(relpath) == text:
            return
        served = text
        if media and self.session_id is not None:
            served = delivery.with_query(text, {delivery.SESSION_PARAM: str(self.session_id)})
        self._put(
            relpath, served.encode(), delivery.PLAYLIST_TYPE, "public, " + delivery.PLAYLIST_CACHE
        )
        self.playlists[relpath] = text

    def _sync_variant(self, variant: str) -> bool:
        """Segments, then the playlist; True when the playlist is up to date remotely."""
        path = delivery.variant_file(self.folder, variant, delivery.PLAYLIST)
        if path is None:
            return False
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return False
        for uri in _listed(text):
            name = uri.split("?")[0]
            key = f"{variant}/{name}"
            if key in self.uploaded:
                continue
            segment = delivery.variant_file(self.folder, variant, name)
            if segment is None:
                continue  # not a name CastCore serves: not a name the CDN gets either
            try:
                body = segment.read_bytes()
            except OSError:
                return False  # listed, then deleted already: the next playlist drops it
            self._put(key, body, delivery.segment_type(name), "public, " + delivery.SEGMENT_CACHE)
            self.uploaded.add(key)
        self._put_playlist(f"{variant}/{delivery.PLAYLIST}", text, media=True)
        return True

    def sync(self) -> None:
        """One pass: segments, playlists, master, deletions. Raises StorageError."""
        master_path = delivery.inside(self.folder, self.folder / delivery.PLAYLIST)
        master = None
        if master_path is not None:
            try:
                master = master_path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                master = None
        variants = {uri.split("?")[0].split("/")[0] for uri in _listed(master or "")}
        if self.folder.is_dir():
            variants |= {p.name for p in self.folder.iterdir() if p.is_dir()}
        ready = {variant for variant in sorted(variants) if self._sync_variant(variant)}
        if master is not None:
            wanted = {uri.split("?")[0].split("/")[0] for uri in _listed(master)}
            if wanted <= ready:
                self._put_playlist(delivery.PLAYLIST, master, media=False)
        gone = [key for key in self.uploaded if not (self.folder / key).is_file()]
        if gone:
            self.bucket.delete_files([f"{self.remote}/{key}" for key in gone])
            self.uploaded.difference_update(gone)


def mirror_bucket() -> Bucket | None:
    """The configured S3 source's backend, or None when the mirror is off."""
    name = settings.LIVE_S3_SOURCE
    if not name:
        return None
    from apps.media.models import SourceKind, StorageSource

    source = StorageSource.objects.filter(name=name, kind=SourceKind.S3).first()
    if source is None:
        raise LookupError(f"CASTCORE_LIVE_S3_SOURCE={name!r}: no S3 storage source of that name")
    backend = source.backend()
    assert hasattr(backend, "put_file")  # an S3 source's backend is an S3Backend
    return backend  # type: ignore[return-value]


def mirror_for(stream: LiveStream, bucket: Bucket) -> HlsMirror | None:
    """The mirror of a public stream with an open session; None for any other."""
    session = selectors.current_session(stream)
    if stream.visibility != LiveVisibility.PUBLIC or session is None:
        return None
    return HlsMirror(
        folder=hls_dir(stream), bucket=bucket, remote=f"live/{stream.pk}", session_id=session.pk
    )


def mirror_live_streams(
    bucket: Bucket, stop: threading.Event, *, sync_seconds: float = SYNC_SECONDS
) -> None:
    """Mirror every public live stream whose HLS is written on this host, until `stop`."""
    mirrors: dict[tuple[int, int | None], HlsMirror] = {}
    refreshed = 0.0
    while not stop.is_set():
        if time.monotonic() - refreshed >= STREAMS_REFRESH_SECONDS:
            refreshed = time.monotonic()
            current = {}
            for stream in LiveStream.objects.filter(visibility=LiveVisibility.PUBLIC):
                mirror = mirror_for(stream, bucket)
                if mirror is not None and mirror.folder.is_dir():
                    key = (stream.pk, mirror.session_id)
                    current[key] = mirrors.get(key) or mirror
            for key, ended in mirrors.items():
                if key not in current:
                    _sync_logged(ended)  # the last pass mirrors what was deleted meanwhile
            mirrors = current
        for mirror in mirrors.values():
            _sync_logged(mirror)
        stop.wait(sync_seconds)


def _sync_logged(mirror: HlsMirror) -> None:
    from apps.media.storage.base import StorageError

    try:
        mirror.sync()
    except StorageError as exc:
        logger.warning("Live HLS mirror %s: %s (%s)", mirror.remote, exc.code, exc.detail)
