"""Run preflight and dry-run reports: claim the row, run the engine, store and publish each check.

The report row is the record: every check is saved as it completes, so the
SSE endpoint can replay what is stored and then follow the live events.
Events go to the group `preflight.<report_id>` (both kinds), shapes below.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, TypedDict

from django.conf import settings
from django.utils import timezone

from apps.streams.models import ReportKind, ReportOverall, ReportState, StreamJob, StreamReport
from apps.streams.quota import min_free_bytes
from apps.streams.specs import job_spec_for, output_spec_for
from castcore.addresses import address_policy
from castcore.events import group_name, publish_now
from workers.ffmpeg import spec as engine
from workers.ffmpeg.dryrun import DryRunOptions, dry_run_checks, run_dry_run
from workers.ffmpeg.preflight import CheckResult, PreflightOptions, Status, overall, run_preflight
from workers.ffmpeg.progress import Progress

logger = logging.getLogger(__name__)

PROGRESS_INTERVAL_SECONDS = 0.5
FINISHED_STATES = (ReportState.DONE, ReportState.FAILED)


def report_group(report_id: int) -> str:
    return group_name("preflight", report_id)


class ReportCheckEvent(TypedDict):
    type: Literal["preflight.check"]
    report_id: int
    index: int  # position in StreamReport.checks
    check: dict[str, Any]  # {name, status, code, params, message}


class ReportProgressEvent(TypedDict):
    type: Literal["preflight.progress"]
    report_id: int
    out_time_s: float | None
    fps: float | None
    speed: float | None


class ReportStateEvent(TypedDict):
    type: Literal["preflight.state"]
    report_id: int
    state: str  # ReportState value
    overall: str  # "" until finished
    result: dict[str, Any]


def _state_event(report: StreamReport) -> ReportStateEvent:
    return {
        "type": "preflight.state",
        "report_id": report.pk,
        "state": report.state,
        "overall": report.overall,
        "result": report.result,
    }


class ReportGone(Exception):
    """The report's row is gone: its job was deleted (and the report with it) while it ran."""


def _save(report: StreamReport, *fields: str) -> None:
    """Write `fields` of the report; ReportGone if its row was deleted meanwhile."""
    if not StreamReport.objects.filter(pk=report.pk).update(
        **{name: getattr(report, name) for name in fields}
    ):
        raise ReportGone(report.pk)


def _record(report: StreamReport, check: CheckResult) -> None:
    report.checks.append(check.to_dict())
    _save(report, "checks")
    event: ReportCheckEvent = {
        "type": "preflight.check",
        "report_id": report.pk,
        "index": len(report.checks) - 1,
        "check": check.to_dict(),
    }
    publish_now(report_group(report.pk), event)


def _spec_error_check(exc: engine.SpecError, *, name: str, **where: Any) -> CheckResult:
    if exc.params.get("field") == "output.stream_key":
        code, message = "preflight.stream_key_missing", "The output has no stream key."
    else:
        code, message = "preflight.spec_invalid", "The job's settings are not valid."
    return CheckResult(
        name, Status.RED, code, {"spec_code": exc.code, **exc.params, **where}, message
    )


def _placeholder(name: str) -> engine.FileOutput:
    # Keeps output indexes aligned with the job's rows when a row cannot be built.
    return engine.FileOutput(path="/nonexistent/invalid-output", enabled=False, name=name)


def spec_for_report(job: StreamJob, workdir: Path) -> tuple[engine.JobSpec, list[CheckResult]]:
    """The job's spec, with outputs that cannot be built replaced by disabled placeholders.

    Raises SpecError when the input or profile is invalid (nothing can be checked then).
    """
    outputs: list[engine.OutputSpec] = []
    problems: list[CheckResult] = []
    for index, row in enumerate(job.outputs.all()):
        try:
            outputs.append(output_spec_for(row))
        except engine.SpecError as exc:
            problems.append(_spec_error_check(exc, name=f"output.{index}.spec", output=index))
            outputs.append(_placeholder(row.name))
    if not outputs:
        outputs.append(_placeholder("none"))
    return job_spec_for(job, workdir=workdir, outputs_override=outputs), problems


def _claim(report_id: int, kind: str) -> StreamReport | None:
    """Pending → running, once: a redelivered task finds nothing to do."""
    claimed = StreamReport.objects.filter(
        pk=report_id, kind=kind, state=ReportState.PENDING
    ).update(state=ReportState.RUNNING)
    if claimed != 1:
        return None
    report = StreamReport.objects.select_related("job", "job__profile").filter(pk=report_id).first()
    if report is None:
        return None  # deleted with its job just now
    publish_now(report_group(report.pk), _state_event(report))
    return report


def _finish(report: StreamReport, state: ReportState) -> StreamReport:
    report.state = state
    report.overall = overall(report.checks).value if report.checks else ReportOverall.RED
    report.finished_at = timezone.now()
    _save(report, "state", "overall", "finished_at", "result")
    publish_now(report_group(report.pk), _state_event(report))
    return report


def preflight_options(job: StreamJob) -> PreflightOptions:
    extra: tuple[str, ...] = ()
    if job.recording_enabled:
        from apps.recordings.conf import STORAGE_DIR

        extra = (str(Path(settings.MEDIA_ROOT) / STORAGE_DIR),)
    options = PreflightOptions(
        ffmpeg=settings.FFMPEG_BINARY, extra_write_dirs=extra, addresses=address_policy()
    )
    # Red where a start would be refused: below the free-space floor (quota.py), when on.
    floor = min_free_bytes()
    return dataclasses.replace(options, disk_red_bytes=floor) if floor else options


def _ended_quietly_if_gone(
    run: Callable[..., StreamReport | None],
) -> Callable[..., StreamReport | None]:
    """A report whose job was deleted while it ran ends there: nobody can read it any more,
    so that is not an error (None, as for a report that was not there to claim)."""

    @functools.wraps(run)
    def wrapper(**kwargs: Any) -> StreamReport | None:
        try:
            return run(**kwargs)
        except ReportGone as gone:
            logger.info("report %s: its job was deleted while it ran; dropped", gone.args[0])
            return None

    return wrapper


@_ended_quietly_if_gone
def stream_report_run_preflight(*, report_id: int) -> StreamReport | None:
    report = _claim(report_id, ReportKind.PREFLIGHT)
    if report is None:
        return None
    try:
        with tempfile.TemporaryDirectory(prefix="castcore-preflight-") as tmp:
            try:
                spec, problems = spec_for_report(report.job, Path(tmp))
            except engine.SpecError as exc:
                _record(report, _spec_error_check(exc, name="spec"))
                return _finish(report, ReportState.DONE)
            for problem in problems:
                _record(report, problem)
            for check in run_preflight(spec, preflight_options(report.job)):
                if problems and check.code == "preflight.no_enabled_outputs":
                    continue  # the invalid outputs above already say why
                _record(report, check)
    except ReportGone:
        raise
    except Exception:
        logger.exception("Preflight report %s failed", report.pk)
        return _finish(report, ReportState.FAILED)
    return _finish(report, ReportState.DONE)


def _progress_publisher(report_id: int) -> Any:
    last = [0.0]

    def on_progress(progress: Progress) -> None:
        now = time.monotonic()
        if now - last[0] < PROGRESS_INTERVAL_SECONDS and not progress.ended:
            return
        last[0] = now
        event: ReportProgressEvent = {
            "type": "preflight.progress",
            "report_id": report_id,
            "out_time_s": progress.out_time_s,
            "fps": progress.fps,
            "speed": progress.speed,
        }
        publish_now(report_group(report_id), event)

    return on_progress


@_ended_quietly_if_gone
def stream_report_run_dry_run(
    *, report_id: int, options: DryRunOptions | None = None
) -> StreamReport | None:
    report = _claim(report_id, ReportKind.DRY_RUN)
    if report is None:
        return None
    options = options or DryRunOptions(
        ffmpeg=settings.FFMPEG_BINARY, seconds=float(report.result.get("seconds") or 5.0)
    )
    try:
        with tempfile.TemporaryDirectory(prefix="castcore-dryrun-spec-") as tmp:
            try:
                spec, _problems = spec_for_report(report.job, Path(tmp))
            except engine.SpecError as exc:
                _record(report, _spec_error_check(exc, name="spec"))
                return _finish(report, ReportState.DONE)
            result = run_dry_run(spec, options, on_progress=_progress_publisher(report.pk))
        report.result = result.to_dict()
        for check in dry_run_checks(spec, result):
            _record(report, check)
    except ReportGone:
        raise
    except Exception:
        logger.exception("Dry-run report %s failed", report.pk)
        return _finish(report, ReportState.FAILED)
    return _finish(report, ReportState.DONE)
