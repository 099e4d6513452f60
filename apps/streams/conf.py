"""Environment settings of the streams app, parsed strictly (castcore.env).

Read at import; tests that need other values monkeypatch these attributes,
and the Celery worker processes they start get the CASTCORE_STREAM_* variables.
"""

from __future__ import annotations

import os

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from castcore.env import env_float, env_int, env_list, env_str


def _env_roots(name: str) -> tuple[str, ...] | None:
    """Comma-separated absolute directories; None when unset (the defaults apply)."""
    if env_str(name, "").strip() == "":
        return None
    roots = tuple(env_list(name, []))
    for root in roots:
        if not os.path.isabs(root):
            raise ImproperlyConfigured(f"{name}: {root!r} is not an absolute path.")
    return roots


# Where file and HLS outputs may be written (ffmpeg runs with -y: it overwrites).
# Unset: VAR_DIR/outputs and MEDIA_ROOT, read at call time (tests move VAR_DIR).
OUTPUT_ROOTS = _env_roots("CASTCORE_OUTPUT_ROOTS")
# Where file inputs may be read. Unset: MEDIA_ROOT and VAR_DIR/inputs. The folders of
# local storage sources are always added (an admin chose them; specs.target_policy).
INPUT_ROOTS = _env_roots("CASTCORE_INPUT_ROOTS")


def output_roots() -> tuple[str, ...]:
    if OUTPUT_ROOTS is not None:
        return OUTPUT_ROOTS
    return (str(settings.VAR_DIR / "outputs"), str(settings.MEDIA_ROOT))


def input_roots() -> tuple[str, ...]:
    if INPUT_ROOTS is not None:
        return INPUT_ROOTS
    return (str(settings.MEDIA_ROOT), str(settings.VAR_DIR / "inputs"))


# A lease not renewed for this long belongs to a dead worker; the reconciler takes it back.
LEASE_SECONDS = env_float("CASTCORE_STREAM_LEASE_SECONDS", 15.0, minimum=1.0)
# Heartbeats renew the lease and read the operator's desired state; several per lease.
HEARTBEAT_SECONDS = env_float("CASTCORE_STREAM_HEARTBEAT_SECONDS", 3.0, minimum=0.2)
# How long stop waits after SIGINT before killing ffmpeg's process group.
STOP_GRACE_SECONDS = env_float("CASTCORE_STREAM_STOP_GRACE_SECONDS", 5.0, minimum=0.0)
# Live progress is published at most this often per job.
PROGRESS_INTERVAL_SECONDS = env_float(
    "CASTCORE_STREAM_PROGRESS_INTERVAL_SECONDS", 1.0, minimum=0.05
)
# A process that ran this long without trouble resets the reconnect attempt counter.
HEALTHY_RESET_SECONDS = env_float("CASTCORE_STREAM_HEALTHY_RESET_SECONDS", 60.0, minimum=1.0)
# Log lines published per job per second; the tail in the database keeps every line.
LOG_LINES_PER_SECOND = env_int("CASTCORE_STREAM_LOG_LINES_PER_SECOND", 50, minimum=1)
LOG_TAIL_LINES = env_int("CASTCORE_STREAM_LOG_TAIL_LINES", 200, minimum=10)
# Recommended beat interval of workers.stream_jobs.reconcile_stream_runs.
RECONCILE_INTERVAL_SECONDS = env_float(
    "CASTCORE_STREAM_RECONCILE_INTERVAL_SECONDS", 10.0, minimum=1.0
)
# A pending run no worker claimed within this long is re-dispatched once, then failed.
CLAIM_TIMEOUT_SECONDS = env_float("CASTCORE_STREAM_CLAIM_TIMEOUT_SECONDS", 30.0, minimum=1.0)
# Disk quota of the instance for recordings plus file and HLS outputs (apps/streams/quota.py);
# 0: none. A job's own quota is its disk_quota_mb field.
DISK_QUOTA_MB = env_int("CASTCORE_DISK_QUOTA_MB", 0, minimum=0)
# How often a running job re-reads what the rest of the instance holds (its own files are
# measured with every progress block); others' growth in between is seen late.
DISK_QUOTA_REFRESH_SECONDS = env_float("CASTCORE_DISK_QUOTA_REFRESH_SECONDS", 10.0, minimum=1.0)
# Free space a run leaves on every filesystem it writes to (its file and HLS outputs, its
# run folder, the media root when it records): below it a start is refused and a run is
# stopped, as at a quota (apps/streams/quota.py). On by default so that nothing fills the
# disk unasked; 0: off. Below the health warning (CASTCORE_HEALTH_MIN_FREE_MB, 2048), which
# therefore warns first.
DISK_MIN_FREE_MB = env_int("CASTCORE_DISK_MIN_FREE_MB", 1024, minimum=0)
