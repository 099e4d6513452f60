"""Mount SMB and NFS sources into a managed directory, one subdirectory per source.

Every tool runs with a timeout in its own process group and is killed when the
timeout passes: a dead NFS server must not hang an API request or a worker.
Passwords go through a 0600 credentials file, never argv (which `ps` shows).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .base import NFSConfig, SMBConfig, StorageError, scrub

_SOURCE_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_SBIN_PATH = "/usr/local/sbin:/usr/sbin:/sbin:/usr/local/bin:/usr/bin:/bin"
DEFAULT_MOUNT_TIMEOUT = 20.0


class MountError(StorageError):
    """A mount/unmount failure with a `mount.*` code."""


@dataclass(frozen=True)
class MountStatus:
    """What /proc/self/mountinfo says about one source's mount point."""

    mounted: bool
    mount_point: str
    fstype: str | None = None
    source: str | None = None


def mount_point(base_dir: Path, source_id: int | str) -> Path:
    """The managed directory of one source; the id never becomes a path traversal."""
    if not _SOURCE_ID_RE.match(str(source_id)):
        raise MountError("mount.invalid_source", "source id must be letters, digits, '-' or '_'")
    # realpath: mountinfo lists canonical paths, so a symlinked base dir must match them.
    return Path(os.path.realpath(base_dir)) / str(source_id)


def _unescape(field: str) -> str:
    # mountinfo writes space, tab, newline and backslash as octal escapes.
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def read_mountinfo(path: str = "/proc/self/mountinfo") -> dict[str, tuple[str, str]]:
    """mount point -> (fstype, source); the last entry wins, as in the kernel's view."""
    table: dict[str, tuple[str, str]] = {}
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            left, sep, right = line.partition(" - ")
            fields, tail = left.split(), right.split()
            if sep and len(fields) >= 5 and len(tail) >= 2:
                table[_unescape(fields[4])] = (tail[0], _unescape(tail[1]))
    return table


def mount_status(*, base_dir: Path, source_id: int | str) -> MountStatus:
    target = str(mount_point(base_dir, source_id))
    entry = read_mountinfo().get(target)
    if entry is None:
        return MountStatus(False, target)
    return MountStatus(True, target, fstype=entry[0], source=entry[1])


def _summarise(stderr: str, secrets: tuple[str, ...]) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    # mount.cifs always appends a pointer to its man page; it tells an operator nothing.
    lines = [line for line in lines if not line.startswith("Refer to the mount.cifs(8)")]
    return scrub(" | ".join(lines)[:500], secrets) or "no error output"


def _classify(returncode: int, stderr: str, secrets: tuple[str, ...], tool: str) -> MountError:
    summary = _summarise(stderr, secrets)
    lowered = stderr.lower()
    if (
        "no such device" in lowered
        or "not supported by the system" in lowered
        or ("unknown filesystem type" in lowered)
    ):
        return MountError(
            "mount.fs_unsupported",
            f"the kernel has no support for this filesystem (module missing or a container): "
            f"{summary}",
        )
    if any(
        marker in lowered
        for marker in (
            "operation not permitted",
            "unable to apply new capability set",
            "only root can",
            "must be superuser",
        )
    ):
        return MountError(
            "mount.not_permitted",
            f"this process may not mount (needs root/CAP_SYS_ADMIN): {summary}",
        )
    return MountError("mount.failed", f"{tool} exited with {returncode}: {summary}")


def _run(argv: list[str], *, timeout: float, secrets: tuple[str, ...]) -> None:
    """Run a mount tool; raise MountError on missing tool, failure or timeout."""
    tool = os.path.basename(argv[0])
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,  # mount.cifs prompts for a password on a tty
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            # LC_ALL=C keeps the messages _classify looks for in English.
            env={"PATH": _SBIN_PATH, "LC_ALL": "C"},
            start_new_session=True,
        )
    except (FileNotFoundError, NotADirectoryError, PermissionError) as exc:
        raise MountError(
            "mount.helper_missing", f"{argv[0]} cannot be run: {exc.strerror}"
        ) from exc
    try:
        _out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        # A mount stuck in the kernel (D state) may outlive SIGKILL; never block on it.
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.communicate(timeout=2)
        raise MountError(
            "mount.timeout", f"{tool} did not finish within {timeout:g}s and was killed"
        ) from None
    if proc.returncode != 0:
        raise _classify(proc.returncode, err, secrets, tool)


def _find_helper(helper: str | None, name: str) -> str:
    if helper is not None:
        return helper
    found = shutil.which(name, path=_SBIN_PATH)
    if found is None:
        package = "cifs-utils" if name == "mount.cifs" else "nfs-common"
        raise MountError("mount.helper_missing", f"{name} is not installed (install {package})")
    return found


def _check_no_newline(config: SMBConfig) -> None:
    # A newline would add a line of our choosing to the credentials file.
    for name in ("username", "password", "domain"):
        if "\n" in getattr(config, name) or "\r" in getattr(config, name):
            raise MountError("mount.invalid_source", f"{name} must not contain a line break")


def _mount_smb(
    config: SMBConfig, target: Path, *, timeout: float, helper: str | None, cred_dir: Path | None
) -> None:
    config.validate()
    _check_no_newline(config)
    binary = _find_helper(helper, "mount.cifs")
    fd, cred_path = tempfile.mkstemp(prefix="cc-cifs-", dir=cred_dir)  # created 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(f"username={config.username}\npassword={config.password}\n")
            if config.domain:
                fh.write(f"domain={config.domain}\n")
        options = (
            f"ro,nosuid,nodev,noexec,soft,noserverino,echo_interval=10,"
            f"port={config.port},credentials={cred_path}"
        )
        argv = [binary, f"//{config.host}/{config.share}", str(target), "-o", options]
        _run(argv, timeout=timeout, secrets=config.secrets())
    finally:
        os.unlink(cred_path)


def _mount_nfs(config: NFSConfig, target: Path, *, timeout: float, helper: str | None) -> None:
    config.validate()
    binary = _find_helper(helper, "mount.nfs")
    # soft + timeo/retrans: a vanished server returns EIO instead of hanging readers
    # forever; nolock: media is read-only and rpc.statd is rarely running.
    options = f"ro,nosuid,nodev,noexec,soft,timeo=50,retrans=2,nolock,port={config.port}"
    if config.options:
        options += "," + config.options
    argv = [binary, f"{config.host}:{config.export}", str(target), "-o", options]
    _run(argv, timeout=timeout, secrets=())


def mount_source(
    *,
    base_dir: Path,
    source_id: int | str,
    config: SMBConfig | NFSConfig,
    timeout: float = DEFAULT_MOUNT_TIMEOUT,
    helper: str | None = None,
    cred_dir: Path | None = None,
) -> MountStatus:
    """Mount a source read-only at base_dir/source_id; a no-op if it is mounted already.

    helper overrides the mount.cifs/mount.nfs binary; cred_dir is where the
    short-lived credentials file is written (the system temp dir by default).
    """
    status = mount_status(base_dir=base_dir, source_id=source_id)
    if status.mounted:
        return status
    target = Path(status.mount_point)
    target.mkdir(parents=True, exist_ok=True, mode=0o750)
    if isinstance(config, SMBConfig):
        _mount_smb(config, target, timeout=timeout, helper=helper, cred_dir=cred_dir)
    else:
        _mount_nfs(config, target, timeout=timeout, helper=helper)
    status = mount_status(base_dir=base_dir, source_id=source_id)
    if not status.mounted:
        raise MountError("mount.failed", "the tool reported success but nothing is mounted")
    return status


def unmount_source(
    *,
    base_dir: Path,
    source_id: int | str,
    timeout: float = DEFAULT_MOUNT_TIMEOUT,
    umount_binary: str = "umount",
) -> MountStatus:
    """Unmount a source; a no-op if it is not mounted."""
    status = mount_status(base_dir=base_dir, source_id=source_id)
    if not status.mounted:
        return status
    binary = shutil.which(umount_binary, path=_SBIN_PATH) or umount_binary
    _run([binary, status.mount_point], timeout=timeout, secrets=())
    return mount_status(base_dir=base_dir, source_id=source_id)
