"""The media library scan engine: walk a folder, plan an incremental rescan,
probe what changed with bounded parallelism.

No Django and no database here: the scans service stores `ScanIndex`
(e.g. as JSON on the source) and the per-file (size, mtime_ns) it already
keeps on media items, and feeds them back in on the next scan.

Rules this module guarantees:
- Symlinks are never followed, wherever they point (files and folders). A
  link inside the library would list the same file twice; a link outside
  leaks files; following "only if the target stays inside" is racy (the
  link can be retargeted between check and probe). Skipping all of them is
  the predictable option. They are counted in `WalkStats.symlinks_skipped`.
- Hidden entries (name starts with ".") are skipped, files and folders.
- Unchanged is (size, mtime_ns) equal to the previous scan.
- Touched files are still found when their folder is unchanged: a folder's
  mtime only moves when entries are added, removed or renamed, so by default
  the files of a reused folder are lstat'ed (cheap) but the folder is not
  re-listed and nothing unchanged is probed. `trust_folder_mtime=True` skips
  those lstats too, for slow network mounts; in-place edits are then only
  seen by a later full scan (previous=None).
- A folder that cannot be read is an error, not a deletion: files under it
  are reported `unverified`, never `missing`.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from workers.ffmpeg.probe import ProbeError, ProbeErrorCode, ProbeResult, probe

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_MEDIA_EXTENSIONS: frozenset[str] = frozenset(
    {
        ".mp4", ".m4v", ".mkv", ".mov", ".webm", ".ts", ".m2ts", ".mts", ".avi",
        ".flv", ".wmv", ".mpg", ".mpeg", ".mxf",
        ".mp3", ".aac", ".m4a", ".wav", ".flac", ".ogg", ".oga", ".opus",
    }
)  # fmt: skip

#: Filesystems such as FAT or some NFS servers keep coarse mtimes. A folder
#: modified this close to the previous scan's start may have changed again
#: within the same tick after it was listed, so it is listed again.
RACY_WINDOW_NS = 2_000_000_000


class ScanError(Exception):
    """The scan cannot run at all (root missing or unreadable)."""

    def __init__(self, code: str, detail: str = "") -> None:
        self.code = code
        self.detail = detail
        super().__init__(f"{code}: {detail}")


@dataclass(frozen=True, slots=True)
class FileEntry:
    relpath: str  # POSIX separators, relative to the scan root
    size: int
    mtime_ns: int

    @property
    def key(self) -> tuple[int, int]:
        return (self.size, self.mtime_ns)


@dataclass(frozen=True, slots=True)
class FolderRecord:
    mtime_ns: int
    files: tuple[str, ...]  # names of media files directly inside
    dirs: tuple[str, ...]  # names of (non-hidden, non-symlink) subfolders


@dataclass(frozen=True, slots=True)
class WalkError:
    relpath: str
    code: str  # scan.unreadable_dir, scan.stat_failed, scan.undecodable_name
    detail: str


@dataclass(slots=True)
class WalkStats:
    folders_listed: int = 0
    folders_reused: int = 0
    files_statted: int = 0
    symlinks_skipped: int = 0


@dataclass
class ScanIndex:
    """What a scan leaves for the next one; JSON-serialisable via to_dict()."""

    files: dict[str, tuple[int, int]] = field(default_factory=dict)
    folders: dict[str, FolderRecord] = field(default_factory=dict)
    started_at_ns: int = 0
    extensions: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": {k: list(v) for k, v in self.files.items()},
            "folders": {
                k: [f.mtime_ns, list(f.files), list(f.dirs)] for k, f in self.folders.items()
            },
            "started_at_ns": self.started_at_ns,
            "extensions": list(self.extensions),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScanIndex:
        return cls(
            files={k: (int(v[0]), int(v[1])) for k, v in data.get("files", {}).items()},
            folders={
                k: FolderRecord(int(v[0]), tuple(v[1]), tuple(v[2]))
                for k, v in data.get("folders", {}).items()
            },
            started_at_ns=int(data.get("started_at_ns", 0)),
            extensions=tuple(data.get("extensions", ())),
        )


def _join(parent: str, name: str) -> str:
    return f"{parent}/{name}" if parent else name


def _utf8_ok(name: str) -> bool:
    # os.scandir maps undecodable bytes to surrogates; such a name cannot be
    # stored as text or passed around safely, so it is reported, not indexed.
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class Walker:
    """Iterate media files under `root`; read `errors`, `folders`, `stats`
    after iteration.

    With `previous`, a folder whose mtime equals the recorded one is not
    re-listed: its media file names come from the index (see module doc for
    how touched files are still caught).
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        extensions: Iterable[str] = DEFAULT_MEDIA_EXTENSIONS,
        previous: ScanIndex | None = None,
        trust_folder_mtime: bool = False,
    ) -> None:
        self.root = os.path.abspath(os.fspath(root))
        self.extensions = frozenset(e.lower() for e in extensions)
        # An index built with other extensions lists other files: ignore it.
        usable = previous is not None and set(previous.extensions) == set(self.extensions)
        self.previous = previous if usable else None
        self.trust_folder_mtime = trust_folder_mtime
        self.errors: list[WalkError] = []
        self.folders: dict[str, FolderRecord] = {}
        self.stats = WalkStats()

    def _is_media(self, name: str) -> bool:
        return os.path.splitext(name)[1].lower() in self.extensions

    def _reusable(self, rel: str, mtime_ns: int) -> FolderRecord | None:
        if self.previous is None:
            return None
        record = self.previous.folders.get(rel)
        if record is None or record.mtime_ns != mtime_ns:
            return None
        if mtime_ns >= self.previous.started_at_ns - RACY_WINDOW_NS:
            return None
        return record

    def __iter__(self) -> Iterator[FileEntry]:
        try:
            root_st = os.stat(self.root)
        except OSError as exc:
            raise ScanError("scan.root_unavailable", f"{self.root}: {exc}") from exc
        if not stat.S_ISDIR(root_st.st_mode):
            raise ScanError("scan.root_unavailable", f"{self.root} is not a folder")
        stack = [""]
        while stack:
            rel = stack.pop()
            yield from self._visit(rel, stack)

    def _visit(self, rel: str, stack: list[str]) -> Iterator[FileEntry]:
        path = os.path.join(self.root, rel) if rel else self.root
        try:
            # lstat before listing: a change made while we list moves the
            # mtime past what we record, so the next scan lists it again.
            dir_st = os.stat(path) if not rel else os.lstat(path)
        except OSError as exc:
            self.errors.append(WalkError(rel, "scan.unreadable_dir", str(exc)))
            return
        if not stat.S_ISDIR(dir_st.st_mode):  # swapped for a link or file since listed
            self.stats.symlinks_skipped += stat.S_ISLNK(dir_st.st_mode)
            return
        record = self._reusable(rel, dir_st.st_mtime_ns)
        if record is not None:
            self.stats.folders_reused += 1
            self.folders[rel] = record
            stack.extend(_join(rel, d) for d in reversed(record.dirs))
            yield from self._reuse_files(rel, path, record)
            return
        self.stats.folders_listed += 1
        files: list[str] = []
        dirs: list[str] = []
        entries: list[FileEntry] = []
        try:
            with os.scandir(path) as it:
                for de in it:
                    name = de.name
                    if name.startswith("."):
                        continue
                    if not _utf8_ok(name):
                        self.errors.append(WalkError(rel, "scan.undecodable_name", repr(name)))
                        continue
                    try:
                        if de.is_symlink():
                            self.stats.symlinks_skipped += 1
                            continue
                        if de.is_dir(follow_symlinks=False):
                            dirs.append(name)
                            continue
                        if not (de.is_file(follow_symlinks=False) and self._is_media(name)):
                            continue
                        st = de.stat(follow_symlinks=False)
                    except OSError as exc:
                        self.errors.append(
                            WalkError(_join(rel, name), "scan.stat_failed", str(exc))
                        )
                        continue
                    self.stats.files_statted += 1
                    files.append(name)
                    entries.append(FileEntry(_join(rel, name), st.st_size, st.st_mtime_ns))
        except OSError as exc:
            self.errors.append(WalkError(rel, "scan.unreadable_dir", str(exc)))
            return
        files.sort()
        dirs.sort()
        self.folders[rel] = FolderRecord(dir_st.st_mtime_ns, tuple(files), tuple(dirs))
        stack.extend(_join(rel, d) for d in reversed(dirs))
        entries.sort(key=lambda e: e.relpath)
        yield from entries

    def _reuse_files(self, rel: str, path: str, record: FolderRecord) -> Iterator[FileEntry]:
        assert self.previous is not None
        for name in record.files:
            relpath = _join(rel, name)
            if self.trust_folder_mtime:
                known = self.previous.files.get(relpath)
                if known is not None:
                    yield FileEntry(relpath, known[0], known[1])
                    continue
            try:
                st = os.lstat(os.path.join(path, name))
            except FileNotFoundError:
                continue  # gone without a folder mtime change: report missing
            except OSError as exc:
                self.errors.append(WalkError(relpath, "scan.stat_failed", str(exc)))
                continue
            if not stat.S_ISREG(st.st_mode):
                self.stats.symlinks_skipped += stat.S_ISLNK(st.st_mode)
                continue
            self.stats.files_statted += 1
            yield FileEntry(relpath, st.st_size, st.st_mtime_ns)


def walk(
    root: str | os.PathLike[str],
    *,
    extensions: Iterable[str] = DEFAULT_MEDIA_EXTENSIONS,
    previous: ScanIndex | None = None,
) -> Iterator[FileEntry]:
    """Media files under root; use `Walker` directly to read errors too."""
    return iter(Walker(root, extensions=extensions, previous=previous))


@dataclass
class ScanPlan:
    new: list[FileEntry] = field(default_factory=list)
    changed: list[FileEntry] = field(default_factory=list)
    unchanged: list[FileEntry] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    # Known files under a folder that could not be read this time: neither
    # seen nor proven gone. Keep their rows as they are.
    unverified: list[str] = field(default_factory=list)

    @property
    def to_probe(self) -> list[FileEntry]:
        return self.new + self.changed


def _under(relpath: str, prefixes: tuple[str, ...]) -> bool:
    return any(p == "" or relpath == p or relpath.startswith(p + "/") for p in prefixes)


def plan(
    previous: Mapping[str, tuple[int, int]],
    current: Iterable[FileEntry],
    *,
    unreadable: Iterable[str] = (),
) -> ScanPlan:
    """Split the current listing against what the last scan stored.

    `previous` maps relpath -> (size, mtime_ns). `unreadable` are relpaths
    (folders or files) that errored during the walk.
    """
    result = ScanPlan()
    seen: set[str] = set()
    for entry in current:
        seen.add(entry.relpath)
        known = previous.get(entry.relpath)
        if known is None:
            result.new.append(entry)
        elif tuple(known) == entry.key:
            result.unchanged.append(entry)
        else:
            result.changed.append(entry)
    blocked = tuple(unreadable)
    for relpath in previous:
        if relpath in seen:
            continue
        (result.unverified if _under(relpath, blocked) else result.missing).append(relpath)
    result.missing.sort()
    result.unverified.sort()
    return result


@dataclass
class TreeScan:
    plan: ScanPlan
    index: ScanIndex  # store it; pass it back as `previous` next time
    errors: list[WalkError]
    stats: WalkStats


def scan_tree(
    root: str | os.PathLike[str],
    previous: ScanIndex | None = None,
    *,
    extensions: Iterable[str] = DEFAULT_MEDIA_EXTENSIONS,
    trust_folder_mtime: bool = False,
) -> TreeScan:
    """Walk + plan in one call. Raises ScanError if root is unavailable, so an
    unmounted source never turns into "every file is missing"."""
    started = time.time_ns()
    walker = Walker(
        root, extensions=extensions, previous=previous, trust_folder_mtime=trust_folder_mtime
    )
    entries = list(walker)
    the_plan = plan(
        previous.files if previous else {},
        entries,
        unreadable=[e.relpath for e in walker.errors if e.code != "scan.undecodable_name"],
    )
    files = {e.relpath: e.key for e in entries}
    if previous:  # keep what we could not see; it is not proven gone
        files.update({r: previous.files[r] for r in the_plan.unverified})
    index = ScanIndex(
        files=files,
        folders=walker.folders,
        started_at_ns=started,
        extensions=tuple(sorted(walker.extensions)),
    )
    return TreeScan(the_plan, index, walker.errors, walker.stats)


class ProbeFn(Protocol):
    def __call__(self, target: str, *, timeout: float) -> ProbeResult: ...


ProbeOutcome = ProbeResult | ProbeError


def _probe_one(root: str, entry: FileEntry, probe_fn: ProbeFn, timeout: float) -> ProbeOutcome:
    path = os.path.join(root, entry.relpath)
    try:
        # The walk saw a regular file; refuse if it became a symlink since.
        if stat.S_ISLNK(os.lstat(path).st_mode):
            return ProbeError(ProbeErrorCode.NOT_REGULAR_FILE, "became a symlink")
        return probe_fn(path, timeout=timeout)
    except ProbeError as exc:
        return exc
    except FileNotFoundError as exc:
        return ProbeError(ProbeErrorCode.NOT_FOUND, str(exc))
    except Exception as exc:  # one bad file must never stop the scan
        return ProbeError(ProbeErrorCode.FAILED, repr(exc))


def bounded_map(
    fn: Callable[[T], R], items: Iterable[T], *, parallelism: int
) -> Generator[tuple[T, R], None, None]:
    """(item, fn(item)) in completion order, at most `parallelism` running and
    2x that queued, so a 10k-file scan does not build 10k futures up front.

    Results arrive in the caller's thread, where it is safe to write to the
    database. If the caller stops early (or fails), what has not started is dropped.
    """
    if parallelism < 1:
        raise ValueError("parallelism must be >= 1")
    source = iter(items)
    with ThreadPoolExecutor(max_workers=parallelism, thread_name_prefix="probe") as pool:
        pending: dict[Future[R], T] = {}

        def submit_next() -> None:
            for item in source:
                pending[pool.submit(fn, item)] = item
                return

        for _ in range(parallelism * 2):
            submit_next()
        try:
            while pending:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in finished:
                    item = pending.pop(fut)
                    submit_next()
                    yield item, fut.result()
        finally:
            for fut in pending:
                fut.cancel()


def probe_many(
    entries: Iterable[FileEntry],
    *,
    root: str | os.PathLike[str],
    parallelism: int = 2,
    timeout: float = 30.0,
    probe_fn: ProbeFn = probe,
    on_progress: Callable[[int, int], None] | None = None,
) -> Iterator[tuple[FileEntry, ProbeOutcome]]:
    """Probe entries under root with bounded_map(); yield (entry, result or error)
    as each finishes (completion order, not input order).

    `on_progress(done, total)` is called in the caller's thread before each yield.
    """
    if parallelism < 1:
        raise ValueError("parallelism must be >= 1")
    base = os.path.abspath(os.fspath(root))
    items = list(entries)
    total = len(items)
    results = bounded_map(
        lambda entry: _probe_one(base, entry, probe_fn, timeout), items, parallelism=parallelism
    )
    for done, (entry, outcome) in enumerate(results, start=1):
        if on_progress is not None:
            on_progress(done, total)
        yield entry, outcome


__all__ = [
    "DEFAULT_MEDIA_EXTENSIONS",
    "FileEntry",
    "FolderRecord",
    "ProbeFn",
    "ProbeOutcome",
    "ScanError",
    "ScanIndex",
    "ScanPlan",
    "TreeScan",
    "WalkError",
    "WalkStats",
    "Walker",
    "bounded_map",
    "plan",
    "probe_many",
    "scan_tree",
    "walk",
]
