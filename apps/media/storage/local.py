"""Local directories, and the tree walker shared with mounted SMB/NFS sources."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

from .base import (
    Backend,
    CheckResult,
    LocalConfig,
    MediaLocation,
    RemoteEntry,
    StorageError,
    normalize_relpath,
    run_checks,
)


def _is_inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def walk_tree(root: Path, prefix: str = "") -> Iterator[RemoteEntry]:
    """Yield regular files under root/prefix, sorted, with paths relative to root.

    Symlinks to files are listed only when their target stays inside root (a link
    to /etc/shadow must not become a media item). Symlinked directories are never
    entered: that rules out loops and duplicate listings of the same files.
    """
    real_root = os.path.realpath(root)
    start = os.path.join(real_root, normalize_relpath(prefix, "prefix"))
    if not _is_inside(os.path.realpath(start), real_root):
        return
    stack = [start]
    while stack:
        current = stack.pop()
        try:
            with os.scandir(current) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            # One unreadable folder must not abort a library scan; test() reports access.
            continue
        subdirs: list[str] = []
        for entry in entries:
            try:
                if entry.is_symlink():
                    target = os.path.realpath(entry.path)
                    if not _is_inside(target, real_root):
                        continue
                    st = os.stat(target)
                    if not stat.S_ISREG(st.st_mode):
                        continue
                elif entry.is_dir(follow_symlinks=False):
                    subdirs.append(entry.path)
                    continue
                elif entry.is_file(follow_symlinks=False):
                    st = entry.stat(follow_symlinks=False)
                else:
                    continue  # sockets, fifos, devices
            except OSError:
                continue  # vanished or unreadable between listing and stat
            rel = os.path.relpath(entry.path, real_root).replace(os.sep, "/")
            yield RemoteEntry(rel, st.st_size, st.st_mtime_ns)
        stack.extend(reversed(subdirs))


def resolve_inside(root: Path, relpath: str) -> Path:
    """The absolute path of relpath under root; refuses anything that escapes root."""
    real_root = os.path.realpath(root)
    target = os.path.realpath(os.path.join(real_root, normalize_relpath(relpath)))
    if not _is_inside(target, real_root):
        raise StorageError("storage.not_found", f"{relpath!r} is outside the source")
    if not os.path.isfile(target):
        raise StorageError("storage.not_found", f"{relpath!r} does not exist")
    return Path(target)


def list_dir(root: Path) -> str:
    """The 'listable' check of a directory we can see locally."""
    try:
        exists = root.exists()
    except OSError as exc:  # a name too long for the filesystem, a loop of symlinks
        raise StorageError("storage.not_listable", f"cannot reach {root}: {exc.strerror}") from exc
    if not exists:
        raise StorageError("storage.not_found", f"{root} does not exist")
    try:
        with os.scandir(root) as it:
            count = sum(1 for _ in it)
    except PermissionError as exc:
        raise StorageError("storage.permission_denied", f"no permission to list {root}") from exc
    except OSError as exc:
        raise StorageError("storage.not_listable", f"cannot list {root}: {exc.strerror}") from exc
    return f"{count} entries at the top level"


def read_first(root: Path) -> str:
    """The 'readable' check: read one byte of the first file found."""
    first = next(walk_tree(root), None)
    if first is None:
        return "no files yet, nothing to read"
    try:
        with open(root / first.relpath, "rb") as fh:
            fh.read(1)
    except PermissionError as exc:
        raise StorageError(
            "storage.permission_denied", f"no permission to read {first.relpath}"
        ) from exc
    except OSError as exc:
        raise StorageError(
            "storage.not_readable", f"cannot read {first.relpath}: {exc.strerror}"
        ) from exc
    return f"read {first.relpath}"


class LocalBackend(Backend):
    """A directory on this machine (also what a worker sees of a shared volume)."""

    def __init__(self, config: LocalConfig) -> None:
        config.validate()
        self.config = config
        self.root = Path(config.path)

    def test(self) -> list[CheckResult]:
        def reachable() -> str:
            try:
                exists = self.root.exists()
            except PermissionError as exc:  # a parent folder is not searchable by us
                raise StorageError(
                    "storage.permission_denied", f"no permission to reach {self.root}"
                ) from exc
            if not exists:
                raise StorageError("storage.not_found", f"{self.root} does not exist")
            if not self.root.is_dir():
                raise StorageError("storage.not_listable", f"{self.root} is not a directory")
            return f"{self.root} exists"

        return run_checks(
            [
                ("reachable", reachable),
                ("credentials", lambda: "not needed for a local directory"),
                ("listable", lambda: list_dir(self.root)),
                ("readable", lambda: read_first(self.root)),
            ]
        )

    def iter_files(self, prefix: str = "") -> Iterator[RemoteEntry]:
        return walk_tree(self.root, prefix)

    def open_for_ffmpeg(self, relpath: str) -> MediaLocation:
        return MediaLocation(str(resolve_inside(self.root, relpath)), "file")
