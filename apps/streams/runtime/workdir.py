"""Each run's scratch folder (VAR_DIR/runs/job-N/run-M): concat lists, overlay text, recordings.

Removed when the run ends, since its helper files may name private paths. A
recording file still there could not be saved as a recording row; it is moved
aside (VAR_DIR/unsaved-recordings) rather than deleted with the folder. The
folder of a worker that died mid-run is settled by the next sweep of a worker on
the same host instead (reconcile.sweep_run_workdirs).
Output folders (HLS directories, a file's folder) are created before each process.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings

from workers.ffmpeg import spec as engine
from workers.ffmpeg.muxers import remove_hls_leftovers

logger = logging.getLogger(__name__)


def run_workdir(job_id: int, number: int) -> Path:
    return _runs_root() / f"job-{job_id}" / f"run-{number}"


def _runs_root() -> Path:
    return Path(settings.VAR_DIR) / "runs"


def existing_run_workdirs() -> Iterator[tuple[int, int, Path]]:
    """(job id, run number, folder) of every run folder on this host's disk."""
    for folder in _runs_root().glob("job-*/run-*"):
        job_part, run_part = folder.parent.name[4:], folder.name[4:]
        if job_part.isdigit() and run_part.isdigit() and folder.is_dir():
            yield int(job_part), int(run_part), folder


@contextlib.contextmanager
def sweep_lock() -> Iterator[bool]:
    """True if this process may sweep the host's run folders now: one at a time, no waiting.

    An flock on the runs folder, so worker processes sharing a VAR_DIR take turns;
    the kernel lets it go if the holder dies. A folder that cannot be locked (not
    writable, a filesystem without locks) is not swept, with a warning.
    """
    with contextlib.ExitStack() as stack:
        try:
            root = _runs_root()
            root.mkdir(parents=True, exist_ok=True)
            lock = stack.enter_context(open(root / ".sweep.lock", "a"))
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            held = False  # another process of this host is sweeping
        except OSError as exc:
            logger.warning("run folders not swept: cannot lock %s: %s", _runs_root(), exc)
            held = False
        else:
            held = True
            stack.callback(fcntl.flock, lock, fcntl.LOCK_UN)
        yield held


def last_written(folder: Path) -> float:
    """The newest modification time of the folder or anything in it."""
    try:
        return max(entry.stat().st_mtime for entry in (folder, *folder.rglob("*")))
    except OSError:
        return time.time()  # changing while we looked: someone is at work in it


def recording_path(workdir: Path, segment: int) -> Path:
    """The file a run's ffmpeg records its `segment`-th process into."""
    return workdir / f"recording-{segment:03d}.mkv"


def recording_files(workdir: Path) -> list[Path]:
    """The recording files in a run's folder, in the order they were written."""
    return sorted(workdir.glob("recording-*.mkv"))


def unsaved_recordings_dir() -> Path:
    return Path(settings.VAR_DIR) / "unsaved-recordings"


def remove_run_workdir(job_id: int, number: int) -> None:
    """Delete the run's folder (and the job's, once empty); never raises."""
    workdir = run_workdir(job_id, number)
    if not workdir.exists():
        return
    for recording in recording_files(workdir):
        target = unsaved_recordings_dir() / f"job-{job_id}-run-{number}-{recording.name}"
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(recording), target)
            logger.warning("unsaved recording of job %s moved to %s", job_id, target)
        except OSError:
            logger.exception("could not keep the unsaved recording %s", recording)
            return  # keep the folder rather than lose the file
    shutil.rmtree(workdir, ignore_errors=True)
    with contextlib.suppress(OSError):
        workdir.parent.rmdir()  # only succeeds when no other run of the job has a folder


def prepare_output_dirs(spec: engine.JobSpec) -> list[str]:
    """Create the folders of HLS and file outputs (ffmpeg's muxers do not), and clear an
    HLS folder of the segments earlier processes left there; returns failures.

    A live stream's HLS ladder keeps what is there: its new process continues the
    playlists it finds (a takeover), and hlsenc creates the variants' sub-folders."""
    failed = []
    for output in spec.enabled_outputs:
        if isinstance(output, engine.HlsOutput | engine.HlsLadderOutput):
            folder = Path(output.directory)
        elif isinstance(output, engine.FileOutput):
            folder = Path(output.path).parent
        else:
            continue
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            failed.append(f"{folder}: {exc.strerror}")
        if isinstance(output, engine.HlsOutput):
            failed += [f"{folder}/{problem}" for problem in remove_hls_leftovers(output)]
    return failed
