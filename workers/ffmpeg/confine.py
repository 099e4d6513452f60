"""Confine every ffmpeg and ffprobe CastCore starts with Linux Landlock.

Protocol and format whitelists decide what a demuxer *asks* to open; Landlock
decides what the kernel *lets* the process open. A playlist, a concat script or
a symlink that talks a demuxer into opening `/elsewhere/x.ts` then gets EACCES,
whatever the file said. A confined process may

- read and execute the system's programs and libraries (/usr, /lib…), and read
  the few files of /etc it needs (ld.so, fonts, TLS roots, name resolution);
- read and write /dev/null and /dev/zero, read /dev/urandom, use /dev/dri (VAAPI);
- read the `read` paths (its input files) and read and write the `write` paths
  (its run folder and the folders its outputs go to);

and nothing else of the filesystem: no /proc (other processes' environments hold
secrets), no /home, no database, no keys. Network is not restricted (Landlock
ABI < 4 cannot; egress.py and the address policy do that part).

The ruleset is built in the parent; the child only calls `prctl` and
`landlock_restrict_self` between fork and exec (`ConfinedSpawn.preexec`), as
the syscalls are per thread and inherited by exec. On a kernel without Landlock
`landlock_abi()` is 0, processes run unconfined, and the health endpoint says so
(apps.system.health).
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import shutil
import stat
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from workers.ffmpeg.spec import FileInput, FileOutput, HlsOutput, JobSpec, PlaylistInput

_libc = ctypes.CDLL(None, use_errno=True)  # resolved before fork: the child only calls it
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
SYSTEM_READ_EXEC = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/opt")
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

NOT_CONFINED_MESSAGE = b"[fatal] CastCore could not confine this process (Landlock)\n"


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
        rules += [(path, READ) for path in SYSTEM_READ]
        rules += [(path, READ_WRITE) for path in SYSTEM_READ_WRITE]
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
    writes = [os.fspath(workdir)]
    for output in spec.enabled_outputs:
        if isinstance(output, HlsOutput):
            writes.append(output.directory)
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


def _restrict(ruleset: int) -> None:
    # Between fork and exec: no allocation worth the name, no locks.
    if (
        _prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
        or _syscall(SYS_LANDLOCK_RESTRICT_SELF, ruleset, 0) != 0
    ):
        os.write(2, NOT_CONFINED_MESSAGE)
        os._exit(126)  # never run the tool unconfined on a kernel that can confine it


@dataclass
class ConfinedSpawn:
    """What Popen needs to start one process: `preexec` (None or run in the child)."""

    preexec: Callable[[], None] | None
    confined: bool


@contextlib.contextmanager
def confined_spawn(
    confinement: Confinement,
    argv: Sequence[str],
    *,
    before: Callable[[], None] | None = None,
) -> Iterator[ConfinedSpawn]:
    """Build the ruleset for one Popen; the `preexec` it yields confines the child.

    `before` runs in the child first (supervisor.py sets PDEATHSIG there). On a kernel
    without Landlock, `preexec` is `before` and the process runs unconfined.
    """
    abi = landlock_abi()
    if abi < 1:
        yield ConfinedSpawn(before, False)
        return
    ruleset = build_ruleset(confinement.rules(shutil.which(argv[0])), abi)

    def preexec() -> None:
        if before is not None:
            before()
        _restrict(ruleset)

    try:
        yield ConfinedSpawn(preexec, True)
    finally:
        os.close(ruleset)


def status() -> dict[str, object]:
    """For the health endpoint: whether ffmpeg and ffprobe run confined on this kernel."""
    abi = landlock_abi()
    return {"landlock_abi": abi, "confined": abi >= 1}


__all__ = [
    "ConfinedSpawn",
    "Confinement",
    "confined_spawn",
    "confinement_for",
    "landlock_abi",
    "status",
]
