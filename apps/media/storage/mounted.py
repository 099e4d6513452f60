"""What SMB and NFS backends share: ffmpeg reads them through the source's mount."""

from __future__ import annotations

from pathlib import Path
from typing import Generic, TypeVar

from .base import (
    DEFAULT_TIMEOUT,
    Backend,
    MediaLocation,
    NFSConfig,
    SMBConfig,
    StorageError,
    check_tcp,
    normalize_relpath,
)
from .local import resolve_inside
from .mounting import mount_status

ConfigT = TypeVar("ConfigT", SMBConfig, NFSConfig)


def mounted_root(base_dir: Path | None, source_id: int | str | None, path: str) -> Path:
    """The folder of a mounted source (its configured sub-path included)."""
    if base_dir is None or source_id is None:
        raise StorageError("mount.not_mounted", "this source has no managed mount directory")
    status = mount_status(base_dir=base_dir, source_id=source_id)
    if not status.mounted:
        raise StorageError("mount.not_mounted", "mount the source first")
    return Path(status.mount_point) / normalize_relpath(path)


class MountedBackend(Backend, Generic[ConfigT]):
    """A source mounted under mount_base_dir/source_id (see mounting.mount_source)."""

    def __init__(
        self,
        config: ConfigT,
        *,
        mount_base_dir: Path | None = None,
        source_id: int | str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        config.validate()
        self.config: ConfigT = config
        self.mount_base_dir = mount_base_dir
        self.source_id = source_id
        self.timeout = timeout

    def _root(self) -> Path:
        return mounted_root(self.mount_base_dir, self.source_id, self.config.path)

    def _check_reachable(self) -> str:
        return check_tcp(
            self.config.host,
            self.config.port,
            self.timeout,
            addresses=self.config.addresses,
        )

    def open_for_ffmpeg(self, relpath: str) -> MediaLocation:
        # ffmpeg has no SMB or NFS protocol in Debian's build: it reads through the mount.
        return MediaLocation(str(resolve_inside(self._root(), relpath)), "file")
