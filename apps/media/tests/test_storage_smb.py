"""SMBBackend against Debian's smbd running on 127.0.0.1 with a generated smb.conf."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from apps.media.storage.base import SMBConfig, StorageError
from apps.media.storage.smb import SMBBackend

if TYPE_CHECKING:
    from .storage_servers import SMBServer

# Session-scoped fixtures that start the real servers (s3_server, smb_server, ...).
pytest_plugins = ["apps.media.tests.storage_servers"]

pytestmark = pytest.mark.slow


def backend(server: SMBServer, **overrides: object) -> SMBBackend:
    values: dict[str, object] = {
        "host": server.host,
        "port": server.port,
        "share": server.share,
        "username": server.username,
        "password": server.password,
    }
    values.update(overrides)
    return SMBBackend(SMBConfig(**values), timeout=3.0)  # type: ignore[arg-type]


def test_all_checks_pass_with_good_credentials(smb_server: SMBServer) -> None:
    results = backend(smb_server).test()
    assert [(r.name, r.ok, r.code) for r in results] == [
        ("reachable", True, None),
        ("credentials", True, None),
        ("listable", True, None),
        ("readable", True, None),
    ]


def test_bad_password_is_auth_failed(smb_server: SMBServer) -> None:
    results = backend(smb_server, password="Wrong-pw-42").test()
    assert (results[1].ok, results[1].code) == (False, "storage.auth_failed")
    assert [r.skipped for r in results[2:]] == [True, True]
    assert "Wrong-pw-42" not in repr(results)


def test_missing_share_is_not_found(smb_server: SMBServer) -> None:
    results = backend(smb_server, share="nosuchshare").test()
    assert (results[2].name, results[2].code) == ("listable", "storage.not_found")


def test_missing_folder_is_not_found(smb_server: SMBServer) -> None:
    results = backend(smb_server, path="no/such/folder").test()
    assert results[2].code == "storage.not_found"


def test_closed_port_is_unreachable(smb_server: SMBServer, closed_port: int) -> None:
    results = backend(smb_server, port=closed_port).test()
    assert results[0].code == "storage.unreachable"


def test_listing_returns_the_files(smb_server: SMBServer, media_dir: Path) -> None:
    entries = list(backend(smb_server).iter_files())
    assert [(e.relpath, e.size) for e in entries] == [
        ("clip1.mp4", (media_dir / "clip1.mp4").stat().st_size),
        ("notes.txt", (media_dir / "notes.txt").stat().st_size),
        ("shows/clip2.mp4", (media_dir / "shows/clip2.mp4").stat().st_size),
    ]
    on_disk = (smb_server.share_dir / "clip1.mp4").stat().st_mtime_ns
    assert abs(entries[0].mtime_ns - on_disk) < 1_000_000  # SMB times are 100 ns ticks


def test_listing_a_subfolder_is_relative_to_it(smb_server: SMBServer) -> None:
    assert [e.relpath for e in backend(smb_server, path="shows").iter_files()] == ["clip2.mp4"]
    assert [e.relpath for e in backend(smb_server).iter_files("shows")] == ["shows/clip2.mp4"]


def test_listing_with_a_bad_password_raises_a_coded_error(smb_server: SMBServer) -> None:
    with pytest.raises(StorageError) as info:
        list(backend(smb_server, password="nope").iter_files())
    assert info.value.code == "storage.auth_failed"
    assert "nope" not in str(info.value)


def test_open_for_ffmpeg_needs_the_mount(smb_server: SMBServer, tmp_path: Path) -> None:
    smb = SMBBackend(
        SMBConfig(
            host=smb_server.host,
            port=smb_server.port,
            share=smb_server.share,
            username=smb_server.username,
            password=smb_server.password,
        ),
        mount_base_dir=tmp_path,
        source_id=7,
    )
    with pytest.raises(StorageError) as info:
        smb.open_for_ffmpeg("clip1.mp4")
    assert info.value.code == "mount.not_mounted"
