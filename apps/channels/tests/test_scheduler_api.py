"""/api/v1/scheduler: create, list the next occurrences, change, refuse bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from rest_framework.test import APIClient

from apps.channels.scheduling.models import RunState, ScheduledAction, ScheduledRun
from apps.channels.tests.factories import a_replay, an_action
from apps.streams.tests.factories import job_with_outputs

pytestmark = pytest.mark.django_db


def _future(days: int = 1) -> datetime:
    return (datetime.now(UTC) + timedelta(days=days)).replace(microsecond=0)


def _job_action(**fields: Any) -> dict[str, Any]:
    return {"name": "nightly show", "kind": "stream_job.start",
            "stream_job": job_with_outputs({}).pk, "starts_at": _future().isoformat(),
            "timezone": "Europe/Paris", **fields}  # fmt: skip


def test_an_operator_schedules_a_recurring_start_and_sees_its_next_occurrences(
    operator_api: APIClient,
) -> None:
    start = datetime.now(ZoneInfo("Europe/Paris")).replace(
        hour=21, minute=0, second=0, microsecond=0
    ) + timedelta(days=1)
    response = operator_api.post(
        "/api/v1/scheduler",
        _job_action(starts_at=start.isoformat(), rule="FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR,SA,SU"),
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert len(body["next_occurrences"]) == 5
    for shown in body["next_occurrences"]:
        local = datetime.fromisoformat(shown)
        assert (local.hour, local.minute) == (21, 0)  # the wall time, whatever the offset
    assert body["missed_policy"] == "skip" and body["owner"] == operator_api.user.pk  # type: ignore[attr-defined]
    more = operator_api.get(f"/api/v1/scheduler/{body['id']}/occurrences?count=30").json()
    assert more["timezone"] == "Europe/Paris" and len(more["occurrences"]) == 30
    assert more["occurrences"][:5] == body["next_occurrences"]


def test_a_one_off_in_the_past_is_refused(operator_api: APIClient) -> None:
    response = operator_api.post(
        "/api/v1/scheduler", _job_action(starts_at=_future(-1).isoformat()), format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "scheduler.starts_in_past"
    assert not ScheduledAction.objects.exists()


@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        ({"rule": "FREQ=SECONDLY"}, "scheduler.invalid_frequency", "rule"),
        ({"rule": "FREQ=DAILY;BYHOUR=99"}, "scheduler.invalid_rule", "rule"),
        ({"rule": "FREQ=MINUTELY;BYSECOND=0,1,2"}, "scheduler.invalid_frequency", "rule"),
        # dateutil walks a rule that never matches to year 9999 (seconds) to say so.
        ({"rule": "FREQ=MINUTELY;BYMONTH=2;BYMONTHDAY=30"}, "scheduler.never_occurs", "rule"),
        (
            {
                "rule": "FREQ=DAILY;INTERVAL=7;BYDAY=TU;COUNT=3",
                "starts_at": "2030-01-07T09:00:00+01:00",
            },
            "scheduler.never_occurs",
            "rule",
        ),
        ({"rule": "DTSTART:19700101T000000\nRRULE:FREQ=DAILY"}, "scheduler.invalid_rule", "rule"),
        ({"timezone": "Europe/Atlantis"}, "scheduler.invalid_timezone", "timezone"),
        ({"kind": "reboot"}, "validation.invalid_choice", "kind"),
        ({"kind": "replay.publish"}, "validation.required", "replay"),
        ({"stream_job": 999999}, "validation.does_not_exist", "stream_job"),
        ({"missed_policy": "sometimes"}, "validation.invalid_choice", "missed_policy"),
        ({"starts_at": "tomorrow"}, "validation.invalid", "starts_at"),
        # At either end of Python's datetime a recurrence walk overflowed (500).
        (
            {"starts_at": "0001-01-01T00:30:00+01:00", "rule": "FREQ=DAILY"},
            "validation.out_of_range",
            "starts_at",
        ),
        (
            {"starts_at": "9999-12-31T23:00:00Z", "rule": "FREQ=DAILY"},
            "validation.out_of_range",
            "starts_at",
        ),
    ],
)
def test_bad_input_is_refused_with_a_code_and_no_row(
    operator_api: APIClient, fields: dict[str, Any], code: str, field: str
) -> None:
    response = operator_api.post("/api/v1/scheduler", _job_action(**fields), format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert (error["code"], error["params"]["field"]) == (code, field)
    assert not ScheduledAction.objects.exists()


def test_a_target_the_kind_does_not_use_is_refused(operator_api: APIClient) -> None:
    replay = a_replay()
    response = operator_api.post("/api/v1/scheduler", _job_action(replay=replay.pk), format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "scheduler.target_not_for_kind"


def test_a_channel_action_needs_a_channel(operator_api: APIClient) -> None:
    response = operator_api.post(
        "/api/v1/scheduler", _job_action(kind="channel.start"), format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["params"]["field"] in ("channel", "stream_job")


def test_a_viewer_reads_but_does_not_schedule(viewer_api: APIClient) -> None:
    an_action()
    assert viewer_api.get("/api/v1/scheduler").json()["total"] == 1
    response = viewer_api.post("/api/v1/scheduler", _job_action(), format="json")
    assert response.status_code == 403


def test_a_new_rule_counts_from_now(operator_api: APIClient) -> None:
    action = an_action(starts_at=_future(-3), next_run_at=_future(-3), rule="")
    response = operator_api.patch(
        f"/api/v1/scheduler/{action.pk}", {"rule": "FREQ=DAILY"}, format="json"
    )
    assert response.status_code == 200, response.content
    action.refresh_from_db()
    assert action.next_run_at is not None and action.next_run_at > datetime.now(UTC)
    assert action.next_run_at - datetime.now(UTC) <= timedelta(days=1)


def test_disabling_clears_the_next_run_and_enabling_skips_the_backlog(
    operator_api: APIClient,
) -> None:
    action = an_action(starts_at=_future(-3), rule="FREQ=HOURLY")
    path = f"/api/v1/scheduler/{action.pk}"
    assert operator_api.patch(path, {"enabled": False}, format="json").json()["next_run_at"] is None
    body = operator_api.patch(path, {"enabled": True}, format="json").json()
    assert datetime.fromisoformat(body["next_run_at"]) > datetime.now(UTC)


def test_runs_list_what_each_occurrence_did(operator_api: APIClient) -> None:
    action = an_action()
    ScheduledRun.objects.create(
        action=action, occurrence_at=_future(-1), state=RunState.FAILED,
        error_code="stream_job.invalid_transition",
    )  # fmt: skip
    body = operator_api.get(f"/api/v1/scheduler/{action.pk}/runs").json()
    assert body["total"] == 1
    assert body["items"][0]["error_code"] == "stream_job.invalid_transition"


def test_delete_removes_the_action_and_its_runs(operator_api: APIClient) -> None:
    action = an_action()
    ScheduledRun.objects.create(action=action, occurrence_at=_future(-1), state=RunState.SKIPPED)
    assert operator_api.delete(f"/api/v1/scheduler/{action.pk}").status_code == 204
    assert not ScheduledRun.objects.exists()


@pytest.mark.parametrize("count", ["0", "101", "-1", "x", "³"])
def test_a_bad_occurrence_count_is_refused(operator_api: APIClient, count: str) -> None:
    action = an_action()
    response = operator_api.get(f"/api/v1/scheduler/{action.pk}/occurrences?count={count}")
    assert response.status_code == 400
    assert response.json()["error"]["params"]["field"] == "count"
