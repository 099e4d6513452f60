"""Scans of a storage source: started by the API, the admin or manage.py, run by a worker.

The rows are the source of truth for incremental rescans: a file is skipped
when a *probed* item has the same (size, mtime_ns). Items are created
unprobed as soon as they are listed (so the library fills in while the scan
runs) and get size/mtime only with their probe, so a scan killed half-way
re-probes exactly what it had not finished.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from apps.accounts.audit import audit_record
from apps.media import conf
from apps.media.models import MediaItem, MediaScan, ScanState, StorageSource
from apps.media.probing import item_update, probe_remote_one
from apps.media.scanner import (
    FileEntry,
    ProbeOutcome,
    ScanError,
    ScanIndex,
    ScanPlan,
    bounded_map,
    plan,
    probe_many,
    scan_tree,
)
from apps.media.selectors import ScanEvent, active_scan, scan_groups, scan_snapshot
from apps.media.storage.base import StorageError
from castcore.api.errors import Conflict
from castcore.events import emit, publish
from workers.ffmpeg.probe import ProbeResult

logger = logging.getLogger("castcore.media.scans")

ProgressFn = Callable[[MediaScan], None]
_CHUNK = 500  # rows per IN (...) list: far below SQLite's variable limit
_MAX_ERRORS = 100


def _publish(scan: MediaScan, event: str) -> None:
    payload: ScanEvent = {"type": "scan.update", "event": event, "scan": scan_snapshot(scan)}
    for group in scan_groups(scan):
        publish(group, payload)


def _expire_abandoned(source: StorageSource) -> None:
    """Fail scans whose worker died, so they cannot block new scans forever."""
    now = timezone.now()
    cutoff = now - timedelta(seconds=conf.SCAN_STALE_SECONDS)
    abandoned = {"state": ScanState.FAILED, "error_code": "scan.abandoned", "finished_at": now}
    MediaScan.objects.filter(
        source=source, state=ScanState.RUNNING, heartbeat_at__lt=cutoff
    ).update(**abandoned)
    MediaScan.objects.filter(source=source, state=ScanState.QUEUED, created_at__lt=cutoff).update(
        **abandoned
    )


def _dispatch(scan_id: int) -> None:
    from workers.scans import scan_storage_source

    try:
        scan_storage_source.apply_async(args=[scan_id], queue="scans")
    except Exception:
        logger.exception("Could not queue scan %s", scan_id)
        MediaScan.objects.filter(pk=scan_id, state=ScanState.QUEUED).update(
            state=ScanState.FAILED, error_code="scan.queue_unavailable", finished_at=timezone.now()
        )


def media_scan_start(
    *,
    source: StorageSource,
    full: bool = False,
    requested_by: Any = None,
    dispatch: bool = True,
    request: HttpRequest | None = None,
    audit_source: str | None = None,
) -> MediaScan:
    """Queue a scan and return at once; the worker task runs it after commit.

    `dispatch=False` is for callers that run the scan themselves (manage.py).
    Audited here, as `media_scan.start` on the source, whoever starts it: the API
    (its request), the admin (`audit_source="admin"`) or manage.py (source `cli`).
    """
    if not source.enabled:
        raise Conflict("storage_source.disabled", {"source_id": source.pk})
    _expire_abandoned(source)
    user = requested_by if getattr(requested_by, "is_authenticated", False) else None
    try:
        with transaction.atomic():
            scan = MediaScan.objects.create(source=source, full=full, requested_by=user)
            audit_record(
                actor=requested_by,
                action="media_scan.start",
                target=source,
                changes={"scan": [None, scan.pk], "full": [None, full]},
                request=request,
                source=audit_source,
            )
    except IntegrityError:
        # The partial unique constraint: another scan of this source is queued or running.
        running = active_scan(source)
        raise Conflict(
            "scan.already_running", {"scan_id": running.pk if running else None}
        ) from None
    _publish(scan, "queued")
    if dispatch:
        transaction.on_commit(lambda: _dispatch(scan.pk))
    return scan


def media_scan_run(*, scan_id: int, on_progress: ProgressFn | None = None) -> MediaScan | None:
    """Run a queued scan to the end (worker task and manage.py); None if it is gone.

    Claimed with a conditional update, so a redelivered task never runs a scan twice.
    """
    now = timezone.now()
    claimed = MediaScan.objects.filter(pk=scan_id, state=ScanState.QUEUED).update(
        state=ScanState.RUNNING, started_at=now, heartbeat_at=now
    )
    scan = MediaScan.objects.select_related("source").filter(pk=scan_id).first()
    if scan is None or not claimed:
        return scan
    run = _ScanRun(scan, on_progress)
    try:
        run.execute()
    except (ScanError, StorageError) as exc:
        run.fail(exc.code, exc.detail)
    except Exception:
        logger.exception("Scan %s failed", scan_id)
        run.fail("scan.internal_error", "unexpected error; see the worker log")
    return scan


class _ScanRun:
    """One execution of a claimed scan; counters live on `scan` and are saved in batches."""

    def __init__(self, scan: MediaScan, on_progress: ProgressFn | None) -> None:
        self.scan = scan
        self.source = scan.source
        self.on_progress = on_progress
        self._last_save = 0.0

    # --- progress --------------------------------------------------------------------

    def _save(self, event: str, *fields: str) -> None:
        scan = self.scan
        scan.heartbeat_at = timezone.now()
        names = ["heartbeat_at", *fields] if fields else ["heartbeat_at", *_COUNTERS]
        # update(), not save(): a source deleted mid-scan must not be re-created.
        MediaScan.objects.filter(pk=scan.pk).update(**{n: getattr(scan, n) for n in names})
        self._last_save = time.monotonic()
        _publish(scan, event)
        if self.on_progress is not None:
            self.on_progress(scan)

    def _tick(self) -> None:
        scan = self.scan
        scan.progress = 100 if not scan.to_probe else min(99, scan.probed * 100 // scan.to_probe)
        if time.monotonic() - self._last_save >= conf.SCAN_PROGRESS_SECONDS:
            self._save("progress")
        elif self.on_progress is not None:
            self.on_progress(scan)

    def fail(self, code: str, detail: str) -> None:
        scan = self.scan
        scan.state, scan.error_code, scan.error_detail = ScanState.FAILED, code, detail[:2000]
        scan.finished_at = timezone.now()
        with transaction.atomic():
            self._save("failed", *_COUNTERS, "state", "error_code", "error_detail", "finished_at")
            self._announce(level="warning")

    # --- the work --------------------------------------------------------------------

    def execute(self) -> None:
        self._save("started")
        known = self._probed_items()
        root = self.source.tree_root()
        index: ScanIndex | None = None
        if root is not None:
            the_plan, index = self._plan_tree(root, known)
        else:
            the_plan = self._plan_remote(known)
        to_probe = the_plan.to_probe + (the_plan.unchanged if self.scan.full else [])
        scan = self.scan
        scan.total = len(the_plan.new) + len(the_plan.changed) + len(the_plan.unchanged)
        scan.new, scan.changed = len(the_plan.new), len(the_plan.changed)
        # A full scan probes the unchanged files again; they are still unchanged, and
        # new + changed + unchanged is every file seen.
        scan.unchanged = len(the_plan.unchanged)
        scan.to_probe = len(to_probe)
        scan.missing = self._mark_missing(the_plan.missing)
        self._create_pending(to_probe)
        self._save("progress", *_COUNTERS, "errors")
        for entry, outcome in self._probe(root, to_probe):
            MediaItem.objects.filter(source=self.source, relpath=entry.relpath).update(
                **item_update(entry, outcome, timezone.now(), str(root) if root else None)
            )
            scan.probed += 1
            scan.failed += not isinstance(outcome, ProbeResult)
            self._tick()
        self._finish(index)

    def _probed_items(self) -> dict[str, tuple[int, int]]:
        rows = MediaItem.objects.filter(
            source=self.source, missing=False, probed_at__isnull=False
        ).values_list("relpath", "size", "mtime_ns")
        return {relpath: (size, mtime_ns) for relpath, size, mtime_ns in rows.iterator(2000)}

    def _plan_tree(
        self, root: Path, known: dict[str, tuple[int, int]]
    ) -> tuple[ScanPlan, ScanIndex]:
        extensions = self.source.media_extensions()
        previous: ScanIndex | None = None
        if not self.scan.full and self.source.scan_index:
            previous = ScanIndex.from_dict(self.source.scan_index)
            previous.files = dict(known)  # plan against the rows, not a stale copy
        tree = scan_tree(root, previous, extensions=extensions)
        self.scan.errors = [
            {"relpath": e.relpath, "code": e.code, "detail": e.detail[:300]}
            for e in tree.errors[:_MAX_ERRORS]
        ]
        if previous is not None:
            return tree.plan, tree.index
        # No usable index: everything was listed as new; plan it against the rows.
        unreadable = [e.relpath for e in tree.errors if e.code != "scan.undecodable_name"]
        return plan(known, tree.plan.new, unreadable=unreadable), tree.index

    def _plan_remote(self, known: dict[str, tuple[int, int]]) -> ScanPlan:
        extensions = self.source.media_extensions()
        entries: list[FileEntry] = []
        for remote in self.source.backend().iter_files():
            names = remote.relpath.split("/")
            if any(n.startswith(".") for n in names):
                continue  # hidden, as in tree scans
            if os.path.splitext(names[-1])[1].lower() not in extensions:
                continue
            entries.append(FileEntry(remote.relpath, remote.size, remote.mtime_ns))
        return plan(known, entries)

    def _mark_missing(self, relpaths: list[str]) -> int:
        now = timezone.now()
        count = 0
        for start in range(0, len(relpaths), _CHUNK):
            count += MediaItem.objects.filter(
                source=self.source, missing=False, relpath__in=relpaths[start : start + _CHUNK]
            ).update(missing=True, missing_since=now, updated_at=now)
        return count

    def _create_pending(self, entries: list[FileEntry]) -> None:
        # Rows without size/mtime/probed_at: listed at once, still "to probe" if we stop.
        MediaItem.objects.bulk_create(
            [MediaItem(source=self.source, relpath=e.relpath) for e in entries],
            batch_size=_CHUNK,
            ignore_conflicts=True,
        )

    def _probe(
        self, root: Path | None, entries: list[FileEntry]
    ) -> Iterator[tuple[FileEntry, ProbeOutcome]]:
        parallelism = max(1, self.source.scan_parallelism)
        timeout = float(self.source.probe_timeout)
        if root is not None:
            return probe_many(entries, root=root, parallelism=parallelism, timeout=timeout)
        backend = self.source.backend()
        return bounded_map(
            lambda entry: probe_remote_one(backend, entry.relpath, timeout),
            entries,
            parallelism=parallelism,
        )

    def _finish(self, index: ScanIndex | None) -> None:
        scan = self.scan
        scan.state, scan.progress, scan.finished_at = ScanState.DONE, 100, timezone.now()
        summary = {
            "scan_id": scan.pk,
            **{name: getattr(scan, name) for name in _COUNTERS if name != "progress"},
            "errors": len(scan.errors),
        }
        with transaction.atomic():
            StorageSource.objects.filter(pk=self.source.pk).update(
                scan_index=index.to_dict() if index is not None else {},
                last_scan_summary=summary,
                last_scanned_at=scan.finished_at,
            )
            self._save("done", *_COUNTERS, "state", "finished_at")
            self._announce(level="info")

    def _announce(self, *, level: str) -> None:
        """media_scan.finished, done or failed, in the transaction that finished the scan."""
        scan = self.scan
        emit(
            "media_scan.finished",
            {
                "scan_id": scan.pk,
                "source_id": self.source.pk,
                "source": self.source.name,
                "state": scan.state,
                "error_code": scan.error_code,
                **{name: getattr(scan, name) for name in _COUNTERS if name != "progress"},
            },
            level=level,
            subject=f"storage_source:{self.source.pk}",
        )


def media_scan_check_active(*, source: StorageSource) -> None:
    """Raise 409 when the source has a queued or running scan (e.g. before delete)."""
    _expire_abandoned(source)
    running = active_scan(source)
    if running is not None:
        raise Conflict("scan.already_running", {"scan_id": running.pk})


_COUNTERS = (
    "total", "to_probe", "probed", "new", "changed", "unchanged", "missing", "failed", "progress",
)  # fmt: skip

__all__ = ["media_scan_check_active", "media_scan_run", "media_scan_start"]
