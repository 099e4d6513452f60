"""NFS exports: reachable over TCP from Python, listed and read through the mount.

There is no maintained pure-Python NFS client, so unlike SMB everything beyond
"the port answers" needs the export mounted by mounting.mount_source().
"""

from __future__ import annotations

from collections.abc import Iterator

from .base import CheckResult, NFSConfig, RemoteEntry, run_checks
from .local import list_dir, read_first, walk_tree
from .mounted import MountedBackend, mounted_root

__all__ = ["NFSBackend", "mounted_root"]


class NFSBackend(MountedBackend[NFSConfig]):
    """An NFS export, mounted under base_dir/source_id for listing and reading."""

    def test(self) -> list[CheckResult]:
        # listable/readable fail with mount.not_mounted until the export is mounted:
        # an operator can still learn from test() whether the server answers at all.
        return run_checks(
            [
                ("reachable", self._check_reachable),
                ("credentials", lambda: "NFS uses host-based access (AUTH_SYS), no password"),
                ("listable", lambda: list_dir(self._root())),
                ("readable", lambda: read_first(self._root())),
            ]
        )

    def iter_files(self, prefix: str = "") -> Iterator[RemoteEntry]:
        return walk_tree(self._root(), prefix)
