"""Disk quotas for what stream jobs write: file and HLS outputs, and recordings.

Two limits, both off unless set: the instance's (`CASTCORE_DISK_QUOTA_MB`, every
recording plus every job's file and HLS outputs and run folders) and a job's
own (`StreamJob.disk_quota_mb`: its outputs, its run folders, where a recording
is written while it runs, and the recordings its runs made). Usage is measured
on disk (sizes of the files as they are now) plus the recordings' stored sizes (every
file of each: the original, and a video's playable copy and poster).

A floor of free space (`CASTCORE_DISK_MIN_FREE_MB`, on by default) bounds the disk
even without a quota: every filesystem a run writes to (its outputs, its run folder,
the media root when it records) must keep that much free; scope `free_space`.

Checked before a start (`quota_breach`, the service refuses with
`stream_job.quota_exceeded`) and while a run writes (`RunBudget`, the supervisor
ends the run with the same reason once it is reached).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from apps.streams import conf
from apps.streams.live.paths import hls_dir, live_root
from apps.streams.models import LiveStream, OutputKind, StreamJob, StreamOutput
from workers.ffmpeg.preflight.targets import existing_ancestor

MB = 1024 * 1024
_WRITTEN_KINDS = (OutputKind.FILE, OutputKind.HLS)


@dataclass(frozen=True)
class QuotaBreach:
    """A quota that is reached: which one, and the bytes used against the bytes allowed."""

    scope: str  # "job" | "instance"
    used_bytes: int
    quota_bytes: int

    def params(self) -> dict[str, int | str]:
        return {"scope": self.scope, "used_bytes": self.used_bytes, "quota_bytes": self.quota_bytes}

    def describe(self) -> str:
        return (
            f"The {self.scope} disk quota is reached ({self.used_bytes} of "
            f"{self.quota_bytes} bytes used)"
        )


@dataclass(frozen=True)
class FreeSpaceBreach:
    """A filesystem the job writes to has less free space than the floor."""

    free_bytes: int
    min_free_bytes: int
    scope: str = "free_space"

    def params(self) -> dict[str, int | str]:
        # No path: the folders are the operator's business, not every API client's.
        return {
            "scope": self.scope,
            "free_bytes": self.free_bytes,
            "min_free_bytes": self.min_free_bytes,
        }

    def describe(self) -> str:
        return (
            f"The disk this job writes to is below its free-space floor ({self.free_bytes} "
            f"bytes free, CASTCORE_DISK_MIN_FREE_MB asks for {self.min_free_bytes})"
        )


Breach = QuotaBreach | FreeSpaceBreach


def min_free_bytes() -> int:
    """The free-space floor; 0: none. Read at each check, so a changed setting applies."""
    return conf.DISK_MIN_FREE_MB * MB


def instance_quota_bytes() -> int | None:
    return conf.DISK_QUOTA_MB * MB if conf.DISK_QUOTA_MB else None


def job_quota_bytes(job: StreamJob) -> int | None:
    return job.disk_quota_mb * MB if job.disk_quota_mb else None


def path_bytes(path: str | os.PathLike[str]) -> int:
    """Bytes of a file, or of every file under a folder; 0 for what is not there."""
    try:
        info = os.stat(path)
    except OSError:
        return 0
    if not os.path.isdir(path):
        return info.st_size
    total = 0
    for folder, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):  # an HLS segment deleted while we walked
                total += os.lstat(os.path.join(folder, name)).st_size
    return total


def _runs_folder(job_id: int) -> Path:
    # The run folders' layout belongs to runtime/workdir.py; the job's folder holds them all.
    return Path(settings.VAR_DIR) / "runs" / f"job-{job_id}"


def job_paths(job: StreamJob) -> list[str]:
    """What the job writes on disk: its file and HLS outputs and its run folders."""
    # Through the job's relation: the outputs the caller loaded, if it did (a start's view
    # and a worker's claim do), so that a start, checked by default, reads them once.
    urls = {output.url for output in job.outputs.all() if output.kind in _WRITTEN_KINDS}
    live = _live_hls_dirs(job)
    return sorted({*urls, *live, str(_runs_folder(job.pk))})


def _live_hls_dirs(job: StreamJob) -> list[str]:
    """A live stream's transcode also writes the stream's HLS folder."""
    try:
        return [str(hls_dir(job.live_stream))]
    except LiveStream.DoesNotExist:
        return []


def written_paths(job: StreamJob, paths: Iterable[str] | None = None) -> list[str]:
    """Where a run of the job writes: `job_paths`, and the media root when it records."""
    written = list(job_paths(job) if paths is None else paths)
    if job.recording_enabled:
        # Recordings are moved under MEDIA_ROOT when a process ends.
        written.append(str(settings.MEDIA_ROOT))
    return written


def filesystems(paths: Iterable[str]) -> list[str]:
    """One existing folder per filesystem the paths lie on (a path not made yet: its parent's)."""
    anchors: dict[int, str] = {}
    for path in paths:
        anchor = existing_ancestor(Path(path).absolute())
        with contextlib.suppress(OSError):
            anchors.setdefault(anchor.stat().st_dev, str(anchor))
    return list(anchors.values())


def free_space_breach(anchors: Iterable[str]) -> FreeSpaceBreach | None:
    """The floor, if one of these filesystems has less free space than it (the lowest named)."""
    floor = min_free_bytes()
    if not floor:
        return None
    free: list[int] = []
    for anchor in anchors:
        # A folder that cannot be read now is left to ffmpeg: it fails to write there.
        with contextlib.suppress(OSError):
            free.append(shutil.disk_usage(anchor).free)
    lowest = min(free, default=floor)
    return FreeSpaceBreach(lowest, floor) if lowest < floor else None


def _recordings_bytes(job_id: int | None = None) -> int:
    from apps.recordings.models import Recording

    recordings = Recording.objects.all()
    if job_id is not None:
        recordings = recordings.filter(stream_job_id=job_id)
    # The original, and for a video its playable copy and poster.
    return recordings.stored_bytes()


def _instance_paths() -> set[str]:
    outputs = StreamOutput.objects.filter(kind__in=_WRITTEN_KINDS).values_list("url", flat=True)
    return {*outputs, str(Path(settings.VAR_DIR) / "runs"), str(live_root())}


def _sum(paths: Iterable[str]) -> int:
    return sum(path_bytes(path) for path in paths)


def _breach(scope: str, used: int, quota: int | None) -> QuotaBreach | None:
    return QuotaBreach(scope, used, quota) if quota is not None and used >= quota else None


def quota_breach(job: StreamJob) -> Breach | None:
    """The job's or the instance's quota, if already reached (the job's is named first),
    else the free-space floor if a filesystem the job writes to is below it."""
    job_quota, instance_quota = job_quota_bytes(job), instance_quota_bytes()
    if job_quota is not None:
        used = _sum(job_paths(job)) + _recordings_bytes(job.pk)
        if breach := _breach("job", used, job_quota):
            return breach
    if instance_quota is not None:
        used = _sum(_instance_paths()) + _recordings_bytes()
        if breach := _breach("instance", used, instance_quota):
            return breach
    if min_free_bytes():
        return free_space_breach(filesystems(written_paths(job)))
    return None


class RunBudget:
    """A running job's quotas and floor: database parts refreshed now and then, disk each check.

    `refresh()` (the supervisor's thread) reads the job's paths, the recordings' sizes and
    measures everything else the instance holds; `check()` only measures the job's own
    files and the free space of the filesystems it writes to, so ffmpeg's progress
    reader can call it every block without touching the database. What other jobs
    write meanwhile is seen at the next refresh.
    """

    def __init__(self, job: StreamJob) -> None:
        self.job = job
        self.job_quota = job_quota_bytes(job)
        self.instance_quota = instance_quota_bytes()
        self.quotas = self.job_quota is not None or self.instance_quota is not None
        self.paths: list[str] = []
        self.anchors: list[str] = []  # one folder per filesystem the job writes to
        self._job_fixed = 0  # the job's recordings
        self._others = 0  # everything else the instance holds
        self._refreshed_at = float("-inf")

    @property
    def active(self) -> bool:
        return self.quotas or min_free_bytes() > 0

    def refresh(self, *, force: bool = False) -> None:
        if not self.active:
            return
        now = time.monotonic()
        if not force and now - self._refreshed_at < conf.DISK_QUOTA_REFRESH_SECONDS:
            return
        self._refreshed_at = now
        self.paths = job_paths(self.job)
        self.anchors = filesystems(written_paths(self.job, self.paths))
        if not self.quotas:
            return  # the floor alone needs no sizes
        self._job_fixed = _recordings_bytes(self.job.pk)
        if self.instance_quota is not None:
            others = _instance_paths() - set(self.paths)
            # The job's run folders lie inside the runs root: measured as the job's own.
            runs_root = str(Path(settings.VAR_DIR) / "runs")
            self._others = _sum(others - {runs_root}) + _recordings_bytes()
            self._others += path_bytes(runs_root) - path_bytes(_runs_folder(self.job.pk))

    def check(self) -> Breach | None:
        if self.quotas:
            live = _sum(self.paths)
            breach = _breach("job", live + self._job_fixed, self.job_quota) or _breach(
                "instance", live + self._others, self.instance_quota
            )
            if breach is not None:
                return breach
        return free_space_breach(self.anchors)


def written_folders() -> list[str]:
    """The folders stream jobs write into: run folders (VAR_DIR), recordings, output roots."""
    return [str(Path(settings.VAR_DIR) / "runs"), str(settings.MEDIA_ROOT), *conf.output_roots()]
