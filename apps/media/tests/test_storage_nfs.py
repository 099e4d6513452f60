"""NFSBackend: no NFS server can run here (no kernel nfsd), so the export is a tmpfs mount."""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from apps.media.storage.base import NFSConfig, StorageError
from apps.media.storage.nfs import NFSBackend

# Session-scoped fixtures that start the real servers (s3_server, smb_server, ...).
pytest_plugins = ["apps.media.tests.storage_servers"]


@pytest.fixture
def listening_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


def test_closed_port_is_unreachable(closed_port: int) -> None:
    results = NFSBackend(NFSConfig(host="127.0.0.1", export="/srv", port=closed_port)).test()
    assert (results[0].ok, results[0].code) == (False, "storage.unreachable")
    assert all(r.skipped for r in results[1:])


def test_unmounted_export_cannot_be_listed(listening_port: int, tmp_path: Path) -> None:
    nfs = NFSBackend(
        NFSConfig(host="127.0.0.1", export="/srv", port=listening_port),
        mount_base_dir=tmp_path,
        source_id=1,
    )
    results = nfs.test()
    assert [(r.name, r.ok, r.code) for r in results[:3]] == [
        ("reachable", True, None),
        ("credentials", True, None),
        ("listable", False, "mount.not_mounted"),
    ]
    with pytest.raises(StorageError) as info:
        nfs.open_for_ffmpeg("a.mp4")
    assert info.value.code == "mount.not_mounted"


def test_mounted_export_is_listed_and_read_through_the_mount(
    tmpfs_mount: Path,
    media_dir: Path,
    listening_port: int,
) -> None:
    shutil.copytree(media_dir, tmpfs_mount / "5" / "library")
    nfs = NFSBackend(
        NFSConfig(host="127.0.0.1", export="/srv", path="library", port=listening_port),
        mount_base_dir=tmpfs_mount,
        source_id=5,
    )
    assert all(r.ok for r in nfs.test())
    assert [e.relpath for e in nfs.iter_files()] == ["clip1.mp4", "notes.txt", "shows/clip2.mp4"]
    location = nfs.open_for_ffmpeg("clip1.mp4")
    assert location.url_or_path == str(tmpfs_mount / "5" / "library" / "clip1.mp4")
    probe = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-protocol_whitelist",
            location.protocol_whitelist,
            "-show_entries",
            "format=duration",
            "-of",
            "csv=p=0",
            location.url_or_path,
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert probe.returncode == 0, probe.stderr
    assert 0.9 < float(probe.stdout) < 1.2
