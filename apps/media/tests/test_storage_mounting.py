"""mount/unmount/status: real tools, real error paths, never a hang."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from apps.media.storage.base import NFSConfig, SMBConfig
from apps.media.storage.mounting import (
    MountError,
    mount_point,
    mount_source,
    mount_status,
    read_mountinfo,
    unmount_source,
)
from apps.media.storage.smb import SMBBackend

if TYPE_CHECKING:
    from .storage_servers import SMBServer

# Session-scoped fixtures that start the real servers (s3_server, smb_server, ...).
pytest_plugins = ["apps.media.tests.storage_servers"]

REPO_ROOT = Path(__file__).resolve().parents[3]


def smb_config() -> SMBConfig:
    return SMBConfig(host="127.0.0.1", share="media", username="u", password="Pw-secret-77")


def test_mountinfo_unescapes_paths(tmp_path: Path) -> None:
    info = tmp_path / "mountinfo"
    info.write_text(
        "36 35 98:0 / /mnt/my\\040media rw,noatime master:1 - cifs //nas/share rw\n"
        "37 35 98:0 / /srv/x rw shared:2 - nfs4 nas:/export rw\n"
    )
    assert read_mountinfo(str(info)) == {
        "/mnt/my media": ("cifs", "//nas/share"),
        "/srv/x": ("nfs4", "nas:/export"),
    }
    assert "/" in read_mountinfo()


def test_source_id_cannot_escape_the_base_dir(tmp_path: Path) -> None:
    with pytest.raises(MountError) as info:
        mount_point(tmp_path, "../etc")
    assert info.value.code == "mount.invalid_source"


def test_status_of_an_unmounted_source(tmp_path: Path) -> None:
    status = mount_status(base_dir=tmp_path, source_id=3)
    assert (status.mounted, status.mount_point) == (False, str(tmp_path / "3"))


def test_status_and_unmount_of_a_real_mount(tmpfs_mount: Path) -> None:
    status = mount_status(base_dir=tmpfs_mount, source_id=5)
    assert (status.mounted, status.fstype) == (True, "tmpfs")
    # Mounting again is a no-op that reports the existing mount.
    assert mount_source(base_dir=tmpfs_mount, source_id=5, config=smb_config()).mounted
    assert not unmount_source(base_dir=tmpfs_mount, source_id=5).mounted
    assert not unmount_source(base_dir=tmpfs_mount, source_id=5).mounted


def test_missing_helper_is_reported(tmp_path: Path) -> None:
    with pytest.raises(MountError) as info:
        mount_source(
            base_dir=tmp_path, source_id=1, config=smb_config(), helper="/nonexistent/mount.cifs"
        )
    assert info.value.code == "mount.helper_missing"


def write_script(path: Path, body: str) -> str:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return str(path)


def test_a_hanging_helper_is_killed_on_timeout(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    helper = write_script(tmp_path / "hang", f"echo $$ > {pid_file}\nexec sleep 60\n")
    started = time.monotonic()
    with pytest.raises(MountError) as info:
        mount_source(base_dir=tmp_path, source_id=1, config=smb_config(), helper=helper, timeout=1)
    assert info.value.code == "mount.timeout"
    assert time.monotonic() - started < 4
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid_file.read_text()), 0)


def test_password_goes_through_a_private_file_and_never_into_errors(tmp_path: Path) -> None:
    """The helper records what it was given, then fails printing the password back."""
    seen = tmp_path / "seen"
    cred_dir = tmp_path / "creds"
    cred_dir.mkdir()
    helper = write_script(
        tmp_path / "spy",
        f'echo "$@" > {seen}/argv\n'
        f'cred=$(echo "$4" | sed -n "s/.*credentials=\\([^,]*\\).*/\\1/p")\n'
        f'stat -c %a "$cred" > {seen}/mode\ncat "$cred" > {seen}/content\n'
        'echo "mount error(13): Permission denied, $(cat "$cred")" >&2\nexit 32\n',
    )
    seen.mkdir()
    with pytest.raises(MountError) as info:
        mount_source(
            base_dir=tmp_path,
            source_id=1,
            config=smb_config(),
            helper=helper,
            cred_dir=cred_dir,
        )
    assert info.value.code == "mount.failed"
    assert "Permission denied" in info.value.detail
    assert "Pw-secret-77" not in str(info.value)
    assert "Pw-secret-77" not in (seen / "argv").read_text()
    assert (seen / "mode").read_text().strip() == "600"
    assert "password=Pw-secret-77" in (seen / "content").read_text()
    assert list(cred_dir.iterdir()) == []  # removed after the attempt


@pytest.mark.skipif(shutil.which("setpriv") is None, reason="setpriv (util-linux) is missing")
def test_a_process_without_cap_sys_admin_is_not_permitted(tmp_path: Path) -> None:
    if shutil.which("mount.nfs", path="/usr/sbin:/sbin") is None:
        pytest.skip("mount.nfs is not installed (apt-get install nfs-common)")
    code = (
        "from pathlib import Path; from apps.media.storage.base import NFSConfig;"
        "from apps.media.storage.mounting import mount_source, MountError\n"
        "try:\n"
        f"    mount_source(base_dir=Path({str(tmp_path)!r}), source_id=2,"
        "config=NFSConfig(host='127.0.0.1', export='/srv'), timeout=5)\n"
        "except MountError as e:\n    print(e.code)\n"
    )
    proc = subprocess.run(
        [
            "setpriv",
            "--bounding-set=-sys_admin",
            "--inh-caps=-sys_admin",
            sys.executable,
            "-c",
            code,
        ],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=REPO_ROOT,
    )
    assert proc.stdout.strip() == "mount.not_permitted", proc.stderr


@pytest.mark.slow
def test_nfs_mount_of_a_dead_server_fails_fast_with_a_code(
    tmp_path: Path, closed_port: int
) -> None:
    if shutil.which("mount.nfs", path="/usr/sbin:/sbin") is None:
        pytest.skip("mount.nfs is not installed (apt-get install nfs-common)")
    config = NFSConfig(host="127.0.0.1", export="/srv/media", port=closed_port, options="vers=4.1")
    started = time.monotonic()
    with pytest.raises(MountError) as info:
        mount_source(base_dir=tmp_path, source_id=4, config=config, timeout=5)
    assert time.monotonic() - started < 8
    if "nfs" not in Path("/proc/filesystems").read_text():
        assert info.value.code == "mount.fs_unsupported"
    else:
        assert info.value.code in {"mount.failed", "mount.timeout"}


@pytest.mark.slow
def test_cifs_mount_of_the_samba_share(smb_server: SMBServer, tmp_path: Path) -> None:
    """Mount the real smbd share when this kernel can; otherwise the error must say why."""
    if shutil.which("mount.cifs", path="/usr/sbin:/sbin") is None:
        pytest.skip("mount.cifs is not installed (apt-get install cifs-utils)")
    config = SMBConfig(
        host=smb_server.host,
        port=smb_server.port,
        share=smb_server.share,
        username=smb_server.username,
        password=smb_server.password,
    )
    error: MountError | None = None
    try:
        status = mount_source(base_dir=tmp_path, source_id=9, config=config, timeout=10)
    except MountError as exc:
        error = exc
    if error is not None:
        assert smb_server.password not in str(error)
        if "cifs" not in Path("/proc/filesystems").read_text():
            assert error.code in {"mount.fs_unsupported", "mount.failed"}, error
        pytest.skip(f"this machine cannot mount cifs: {error}")
    try:
        assert status.fstype == "cifs"
        smb = SMBBackend(config, mount_base_dir=tmp_path, source_id=9)
        location = smb.open_for_ffmpeg("shows/clip2.mp4")
        assert stat.S_ISREG(os.stat(location.url_or_path).st_mode)
    finally:
        assert not unmount_source(base_dir=tmp_path, source_id=9).mounted
