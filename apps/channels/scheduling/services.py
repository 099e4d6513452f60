"""Writes of the scheduler: actions, and running the occurrences that came due.

Exactly once: every occurrence is claimed by inserting its ScheduledRun row, whose
(action, occurrence_at) pair is unique. Two beat processes, or several workers each
running the periodic task, may all find the same occurrence due; one insert wins and
the others see the conflict and move on. The claim and the action's own writes (a
job's start transition) commit together, so a process that dies between them leaves
nothing behind and the occurrence is still due for the next tick.
"""

from __future__ import annotations

import copy
import logging
import os
import socket
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from apps.accounts.audit import audit_record, update_audited
from apps.channels.scheduling import conf
from apps.channels.scheduling.models import (
    ActionKind,
    MissedPolicy,
    RunState,
    ScheduledAction,
    ScheduledRun,
)
from apps.channels.scheduling.recurrence import RecurrenceError
from castcore.api.errors import ApiError

logger = logging.getLogger(__name__)

EDITABLE_FIELDS = (
    "name", "kind", "stream_job", "channel", "replay", "starts_at", "timezone", "rule",
    "missed_policy", "enabled",
)  # fmt: skip
TARGET_FIELD = {
    ActionKind.STREAM_JOB_START: "stream_job",
    ActionKind.STREAM_JOB_STOP: "stream_job",
    ActionKind.CHANNEL_START: "channel",
    ActionKind.CHANNEL_STOP: "channel",
    ActionKind.REPLAY_PUBLISH: "replay",
}


def _grace() -> timedelta:
    return timedelta(seconds=conf.MISSED_AFTER_SECONDS)


def _validate(action: ScheduledAction, *, now: datetime, new_timing: bool) -> None:
    """The rule, zone and target of `action` are usable, or a 400 naming the field."""
    try:
        action.recurrence.validate()
    except RecurrenceError as exc:
        field = "timezone" if exc.code == "invalid_timezone" else "rule"
        raise ApiError(f"scheduler.{exc.code}", {"field": field}) from None
    target = TARGET_FIELD[ActionKind(action.kind)]
    if getattr(action, f"{target}_id") is None:
        raise ApiError("validation.required", {"field": target})
    for field in sorted({"stream_job", "channel", "replay"} - {target}):
        if getattr(action, f"{field}_id") is not None:
            raise ApiError("scheduler.target_not_for_kind", {"field": field, "kind": action.kind})
    if new_timing and not action.rule and action.starts_at <= now:
        raise ApiError("scheduler.starts_in_past", {"field": "starts_at"})


#: The fields whose change makes a new timing (counted from now, in the future).
NEW_TIMING_FIELDS = ("starts_at", "rule")


def _changed(action: ScheduledAction, changes: dict[str, Any]) -> set[str]:
    return {name for name, value in changes.items() if getattr(action, name) != value}


def scheduled_action_check(
    *, fields: dict[str, Any], action: ScheduledAction | None = None
) -> None:
    """Raise the API error a create (no `action`) or an update of `action` with these
    fields would raise, changing nothing (the admin form uses it)."""
    candidate = copy.copy(action) if action is not None else ScheduledAction()
    new_timing = action is None or bool(_changed(action, fields) & set(NEW_TIMING_FIELDS))
    for name, value in fields.items():
        setattr(candidate, name, value)
    _validate(candidate, now=timezone.now(), new_timing=new_timing)


def _next_from(action: ScheduledAction, now: datetime) -> datetime | None:
    return action.recurrence.after(now, inclusive=True) if action.enabled else None


def scheduled_action_create(
    *, actor: Any, request: HttpRequest | None = None, **fields: Any
) -> ScheduledAction:
    """A new action; its first occurrence is the first at or after now."""
    now = timezone.now()
    action = ScheduledAction(
        owner=actor if getattr(actor, "is_authenticated", False) else None, **fields
    )
    _validate(action, now=now, new_timing=True)
    action.next_run_at = _next_from(action, now)
    with transaction.atomic():
        action.save()
        audit_record(actor=actor, action="scheduled_action.create", target=action, request=request)
    return action


def scheduled_action_update(
    *, actor: Any, action: ScheduledAction, request: HttpRequest | None = None, **changes: Any
) -> ScheduledAction:
    """Change an action. A new timing (or enabling it) counts from now: no backlog runs."""
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"not editable: {sorted(unknown)}")
    now = timezone.now()
    timing = {"starts_at", "timezone", "rule", "enabled"} & _changed(action, changes)
    for name, value in changes.items():
        setattr(action, name, value)
    _validate(action, now=now, new_timing=bool(timing & set(NEW_TIMING_FIELDS)))
    fields = dict(changes)
    if timing:
        fields["next_run_at"] = _next_from(action, now)
    update_audited(
        action,
        fields,
        actor=actor,
        action="scheduled_action.update",
        request=request,
        also_save=["updated_at"],
    )
    return action


def scheduled_action_delete(
    *, actor: Any, action: ScheduledAction, request: HttpRequest | None = None
) -> None:
    with transaction.atomic():
        audit_record(actor=actor, action="scheduled_action.delete", target=action, request=request)
        action.delete()


# --- running what came due ------------------------------------------------------------------


def _execute(action: ScheduledAction) -> None:
    """Take the action, as its owner. Raises ApiError when the target refuses."""
    from apps.channels.play.services import channel_start, channel_stop
    from apps.channels.replays.services import replay_publish
    from apps.streams.services import stream_job_start, stream_job_stop

    job, channel, replay = action.stream_job, action.channel, action.replay
    if action.kind == ActionKind.CHANNEL_START and channel is not None:
        channel_start(actor=action.owner, channel=channel)
    elif action.kind == ActionKind.CHANNEL_STOP and channel is not None:
        channel_stop(actor=action.owner, channel=channel, hold=True)
    elif action.kind == ActionKind.STREAM_JOB_START and job is not None:
        stream_job_start(actor=action.owner, job=job)
    elif action.kind == ActionKind.STREAM_JOB_STOP and job is not None:
        stream_job_stop(actor=action.owner, job=job)
    elif action.kind == ActionKind.REPLAY_PUBLISH and replay is not None:
        replay_publish(actor=action.owner, replay=replay)
    else:
        raise ApiError("scheduler.target_missing", {"kind": action.kind})


def _claim_and_run(
    action: ScheduledAction, occurrence: datetime, *, late: bool, skip: bool, claimer: str
) -> ScheduledRun | None:
    """Claim one occurrence and run it (or record it skipped). None when another won."""
    try:
        with transaction.atomic():
            run = ScheduledRun.objects.create(
                action=action,
                occurrence_at=occurrence,
                state=RunState.SKIPPED if skip else RunState.SUCCEEDED,
                late=late,
                claimed_by=claimer,
            )
            if skip:
                return run
            try:
                with transaction.atomic():  # a refusal undoes the action's writes, not the claim
                    _execute(action)
            except ApiError as exc:
                run.state, run.error_code, run.error_params = RunState.FAILED, exc.code, exc.params
                run.save(update_fields=["state", "error_code", "error_params"])
            return run
    except IntegrityError:
        return None  # claimed by another scheduler


def _claimer() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def scheduled_action_run_due(*, action: ScheduledAction, now: datetime) -> list[ScheduledRun]:
    """Run `action`'s occurrences due at `now` under its missed-run policy; move it on.

    An occurrence older than CASTCORE_SCHEDULER_MISSED_AFTER_SECONDS was missed
    (CastCore was down): `skip` records it skipped, `run_once` runs the latest missed
    one, late, and skips the rest. Those within it run, each once.
    """
    if action.next_run_at is None or action.next_run_at > now:
        return []
    recurrence = action.recurrence
    due = recurrence.between(action.next_run_at, now)
    cutoff = now - _grace()
    missed = [moment for moment in due if moment < cutoff]
    claimer = _claimer()
    runs: list[ScheduledRun] = []
    for moment in due:
        is_missed = moment < cutoff
        skip = is_missed and not (
            action.missed_policy == MissedPolicy.RUN_ONCE and moment == missed[-1]
        )
        run = _claim_and_run(action, moment, late=is_missed, skip=skip, claimer=claimer)
        if run is not None:
            runs.append(run)
    # Past what this look walked (at most MAX_WALK occurrences): the next after it.
    last = due[-1] if due else action.next_run_at
    following = recurrence.after(max(last, now))
    # Compare-and-set: a scheduler that read the action before another moved it on
    # changes nothing (its claims above found the runs taken).
    ScheduledAction.objects.filter(pk=action.pk, next_run_at=action.next_run_at).update(
        next_run_at=following
    )
    return runs


def scheduled_actions_run_due(*, now: datetime | None = None) -> list[ScheduledRun]:
    """Every enabled action with an occurrence due: what the periodic task calls."""
    now = now or timezone.now()
    runs: list[ScheduledRun] = []
    due = ScheduledAction.objects.filter(enabled=True, next_run_at__lte=now).select_related(
        "stream_job", "channel", "replay", "owner"
    )
    for action in due:
        try:
            runs.extend(scheduled_action_run_due(action=action, now=now))
        except Exception:
            # One broken action must not hold up the others; the next tick tries again.
            logger.exception("scheduled action %s could not run", action.pk)
    return runs
