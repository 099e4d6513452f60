"""Confine every ffmpeg and ffprobe CastCore starts with Linux Landlock.

Protocol and format whitelists decide what a demuxer *asks* to open; Landlock
decides what the kernel *lets* the process open. A playlist, a concat script or
a symlink that talks a demuxer into opening `/elsewhere/x.ts` then gets EACCES,
whatever the file said. A confined process may

- read and execute the system's programs and libraries (/usr, /lib…), and read
  the few files of /etc it needs (ld.so, fonts, TLS roots, name resolution);
- read and write /dev/null and /dev/zero, read /dev/urandom, use /dev/dri (VAAPI)
  and the NVIDIA driver's devices (NVENC);
- read the `read` paths (its input files) and read and write the `write` paths
  (its run folder and the folders its outputs go to);

and nothing else of the filesystem: no /proc (other processes' environments hold
secrets), no /home, no database, no keys. Network is not restricted (Landlock
ABI < 4 cannot; egress.py and the address policy do that part).

Landlock restricts a thread and everything it starts, for good: so a process is
started from a thread of its own that restricts itself first (`start_confined`,
or FFmpegProcess's waiting thread), and subprocess keeps its vfork. On a kernel
without Landlock `landlock_abi()` is 0, processes run unconfined, and the health
endpoint says so (apps.system.health).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import glob
import os
import shutil
import stat
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from workers.ffmpeg.spec import (
    FileInput,
    FileOutput,
    FollowedHlsInput,
    HlsLadderOutput,
    HlsOutput,
    JobSpec,
    PlaylistInput,
)

_libc = ctypes.CDLL(None, use_errno=True)  # the Landlock syscalls have no glibc wrappers
_syscall = _libc.syscall
_prctl = _libc.prctl

# x86_64 and aarch64 share these numbers (the generic syscall table).
SYS_LANDLOCK_CREATE_RULESET = 444
SYS_LANDLOCK_ADD_RULE = 445
SYS_LANDLOCK_RESTRICT_SELF = 446
LANDLOCK_CREATE_RULESET_VERSION = 1 << 0
LANDLOCK_RULE_PATH_BENEATH = 1
PR_SET_NO_NEW_PRIVS = 38

EXECUTE = 1 << 0
WRITE_FILE = 1 << 1
READ_FILE = 1 << 2
READ_DIR = 1 << 3
REMOVE_DIR = 1 << 4
REMOVE_FILE = 1 << 5
MAKE_CHAR = 1 << 6
MAKE_DIR = 1 << 7
MAKE_REG = 1 << 8
MAKE_SOCK = 1 << 9
MAKE_FIFO = 1 << 10
MAKE_BLOCK = 1 << 11
MAKE_SYM = 1 << 12
REFER = 1 << 13  # ABI 2
TRUNCATE = 1 << 14  # ABI 3

_ABI_1 = (1 << 13) - 1
# Rights that mean something on a file that is not a directory.
_FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE

READ = READ_FILE | READ_DIR
READ_EXEC = READ | EXECUTE
READ_WRITE = READ | WRITE_FILE | TRUNCATE | MAKE_REG | MAKE_DIR | REMOVE_FILE | REMOVE_DIR | REFER

# What every ffmpeg needs of the system: programs, libraries, and a few files of /etc.
SYSTEM_READ_EXEC = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
SYSTEM_READ = (
    "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/ld.so.preload",
    "/etc/fonts", "/var/cache/fontconfig",  # drawtext
    "/etc/ssl", "/etc/ca-certificates", "/etc/pki",  # https, rtmps
    "/etc/resolv.conf", "/etc/hosts", "/etc/nsswitch.conf", "/etc/gai.conf",
    "/etc/host.conf", "/etc/services", "/etc/protocols", "/etc/localtime",
    "/etc/gnutls", "/etc/crypto-policies",
    "/sys/devices/system/cpu",  # how many threads to start
    "/dev/urandom", "/dev/random",
)  # fmt: skip
SYSTEM_READ_WRITE = ("/dev/null", "/dev/zero", "/dev/dri")
# NVENC/NVDEC: the driver's device nodes (one per GPU, found at start) and what libcuda
# reads of the driver. Not exercised on hardware here (no GPU on these machines).
NVIDIA_DEVICES = "/dev/nvidia*"
NVIDIA_READ = ("/proc/driver/nvidia", "/sys/module/nvidia")


class _PathBeneath(ctypes.Structure):
    _pack_ = 1  # struct landlock_path_beneath_attr is packed
    _fields_ = (("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32))


class _RulesetAttr(ctypes.Structure):
    _fields_ = (("handled_access_fs", ctypes.c_uint64),)


@functools.cache
def landlock_abi() -> int:
    """The kernel's Landlock ABI version; 0 when it has none (or it is turned off)."""
    version = _syscall(
        SYS_LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0), LANDLOCK_CREATE_RULESET_VERSION
    )
    return max(int(version), 0)


def handled_rights(abi: int) -> int:
    """The filesystem rights the ruleset restricts on a kernel of `abi`."""
    if abi < 1:
        return 0
    rights = _ABI_1
    if abi >= 2:
        rights |= REFER
    if abi >= 3:
        rights |= TRUNCATE
    return rights


@dataclass(frozen=True)
class Confinement:
    """What one process may touch beyond the system: `read` paths, and `write` paths
    (read and write). Each may be a file or a folder (a folder includes what is in it)."""

    read: tuple[str, ...] = ()
    write: tuple[str, ...] = ()

    def rules(self, binary: str | None = None) -> list[tuple[str, int]]:
        """(path, rights) for every rule, system paths included."""
        rules = [(path, READ_EXEC) for path in SYSTEM_READ_EXEC]
        if binary is not None:
            # An FFMPEG_BINARY outside /usr (/opt/ffmpeg/bin/ffmpeg) with its own libraries.
            real = Path(os.path.realpath(binary))
            rules += [(str(real.parent), READ_EXEC), (str(real.parent.parent / "lib"), READ_EXEC)]
        rules += [(path, READ) for path in (*SYSTEM_READ, *NVIDIA_READ)]
        devices = (*SYSTEM_READ_WRITE, *sorted(glob.glob(NVIDIA_DEVICES)))
        rules += [(path, READ_WRITE) for path in devices]
        rules += [(path, READ) for path in self.read]
        rules += [(path, READ_WRITE) for path in self.write]
        return rules


#: The system's files only: for a tool that reads a URL or a pipe and writes nothing.
SYSTEM_ONLY = Confinement()


def confinement_for(spec: JobSpec, workdir: str | os.PathLike[str]) -> Confinement:
    """What the ffmpeg of `spec` may touch: its input files, its run folder, its outputs'
    folders. The spec's paths passed the target policy (policy.py) when it was built.
    A folder that does not exist yet gets no rule: the caller creates output folders
    first (workdir.prepare_output_dirs); allowing its parent instead could allow `/`."""
    reads: list[str] = []
    source = spec.input
    if isinstance(source, FileInput):
        reads.append(source.path)
    elif isinstance(source, PlaylistInput):
        reads += source.paths
    elif isinstance(source, FollowedHlsInput):
        reads.append(str(Path(source.playlist).parent))  # the playlist and its segments
    writes = [os.fspath(workdir)]
    for output in spec.enabled_outputs:
        if isinstance(output, HlsOutput | HlsLadderOutput):
            writes.append(output.directory)  # a ladder's variant folders are inside it
        elif isinstance(output, FileOutput):
            writes.append(str(Path(output.path).parent))
    return Confinement(read=tuple(reads), write=tuple(writes))


def _add_rule(ruleset: int, path: str, rights: int, handled: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return  # absent here (no /lib32, no /dev/dri): nothing to allow
    try:
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            rights &= _FILE_RIGHTS
        attr = _PathBeneath(rights & handled, fd)
        if attr.allowed_access == 0:
            return
        done = _syscall(
            SYS_LANDLOCK_ADD_RULE, ruleset, LANDLOCK_RULE_PATH_BENEATH, ctypes.byref(attr), 0
        )
        if done != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"landlock_add_rule({path}): {os.strerror(err)}")
    finally:
        os.close(fd)


def build_ruleset(rules: Iterable[tuple[str, int]], abi: int) -> int:
    """A Landlock ruleset fd (close-on-exec) that allows `rules` and nothing else."""
    handled = handled_rights(abi)
    attr = _RulesetAttr(handled)
    fd = int(_syscall(SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(attr), ctypes.sizeof(attr), 0))
    if fd < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"landlock_create_ruleset: {os.strerror(err)}")
    try:
        os.set_inheritable(fd, False)
        for path, rights in rules:
            _add_rule(fd, path, rights, handled)
    except BaseException:
        os.close(fd)
        raise
    return fd


def restrict_thread(ruleset: int) -> None:
    """Confine the calling thread, for good, and every process it starts from now on."""
    if _prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"prctl(PR_SET_NO_NEW_PRIVS): {os.strerror(err)}")
    if _syscall(SYS_LANDLOCK_RESTRICT_SELF, ruleset, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"landlock_restrict_self: {os.strerror(err)}")


def resolved_argv(argv: Sequence[str]) -> list[str]:
    """argv with its program as an absolute path: a confined thread cannot search PATH
    (folders outside the rules answer EACCES, hiding a plain "not found")."""
    program = shutil.which(argv[0])
    if program is None:
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), argv[0])
    return [program, *argv[1:]]


@contextlib.contextmanager
def ruleset_for(confinement: Confinement, argv: Sequence[str]) -> Iterator[int | None]:
    """The ruleset fd for one process of `argv`, closed afterwards; None without Landlock."""
    abi = landlock_abi()
    if abi < 1:
        yield None
        return
    fd = build_ruleset(confinement.rules(argv[0]), abi)
    try:
        yield fd
    finally:
        os.close(fd)


T = TypeVar("T")


def start_confined(confinement: Confinement, argv: Sequence[str], start: Callable[[], T]) -> T:
    """`start()` (a Popen of `argv`, its program resolved: resolved_argv) on a new thread
    confined by `confinement`.

    Landlock confines a thread and what it starts; the caller's thread stays free. The
    thread ends once the process is started, so its process must not use PDEATHSIG
    (FFmpegProcess starts its own from the thread that waits for it instead). The
    thread keeps subprocess's vfork: a preexec_fn would fork the whole worker (tens of
    ms at a few hundred MB) on every start.
    """
    with ruleset_for(confinement, argv) as ruleset:
        if ruleset is None:
            return start()
        result: Future[T] = Future()

        def run() -> None:
            try:
                restrict_thread(ruleset)
                result.set_result(start())
            except BaseException as exc:
                result.set_exception(exc)

        thread = threading.Thread(target=run, name="confined-start", daemon=True)
        thread.start()
        thread.join()
        return result.result()


def status() -> dict[str, object]:
    """For the health endpoint: whether ffmpeg and ffprobe run confined on this kernel."""
    abi = landlock_abi()
    return {"landlock_abi": abi, "confined": abi >= 1}


__all__ = [
    "SYSTEM_ONLY",
    "Confinement",
    "confinement_for",
    "landlock_abi",
    "resolved_argv",
    "restrict_thread",
    "ruleset_for",
    "start_confined",
    "status",
]
