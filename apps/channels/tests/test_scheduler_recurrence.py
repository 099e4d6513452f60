"""Occurrences keep their local wall time across DST changes; rules are checked."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from apps.channels.scheduling.recurrence import Recurrence, RecurrenceError

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")


def test_a_daily_rule_keeps_its_wall_time_across_the_spring_change() -> None:
    # Europe/Paris moves to summer time on 2026-03-29: 09:00 is 08:00 UTC, then 07:00.
    start = datetime(2026, 3, 27, 9, 0, tzinfo=PARIS)
    found = Recurrence(start, "Europe/Paris", "FREQ=DAILY").upcoming(start, 4)
    assert [moment.astimezone(PARIS).hour for moment in found] == [9, 9, 9, 9]
    assert [moment.hour for moment in found] == [8, 8, 7, 7]


def test_a_weekly_rule_keeps_its_wall_time_across_the_autumn_change() -> None:
    # America/New_York returns to standard time on 2026-11-01.
    start = datetime(2026, 10, 19, 20, 30, tzinfo=NEW_YORK)
    rule = Recurrence(start, "America/New_York", "FREQ=WEEKLY;BYDAY=MO")
    found = rule.upcoming(datetime(2026, 10, 19, tzinfo=UTC), 4)
    assert [m.astimezone(NEW_YORK).strftime("%a %H:%M") for m in found] == ["Mon 20:30"] * 4
    assert [m.strftime("%d %H:%M") for m in found] == ["20 00:30", "27 00:30", "03 01:30",
                                                       "10 01:30"]  # fmt: skip


def test_a_wall_time_that_does_not_exist_runs_once_an_hour_later() -> None:
    # 02:30 does not exist in Paris on 2026-03-29: that day it runs at 03:30 (01:30 UTC).
    start = datetime(2026, 3, 28, 2, 30, tzinfo=PARIS)
    found = Recurrence(start, "Europe/Paris", "FREQ=DAILY").upcoming(start, 3)
    assert [m.astimezone(PARIS).strftime("%d %H:%M") for m in found] == [
        "28 02:30", "29 03:30", "30 02:30",
    ]  # fmt: skip
    assert len(set(found)) == 3


def test_a_wall_time_that_happens_twice_runs_once() -> None:
    # 02:30 happens twice in Paris on 2026-10-25; a daily rule runs at the first.
    start = datetime(2026, 10, 24, 2, 30, tzinfo=PARIS)
    found = Recurrence(start, "Europe/Paris", "FREQ=DAILY").between(
        datetime(2026, 10, 25, tzinfo=UTC), datetime(2026, 10, 25, 23, 0, tzinfo=UTC)
    )
    assert found == [datetime(2026, 10, 25, 0, 30, tzinfo=UTC)]


def test_a_one_off_occurs_once() -> None:
    start = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    one_off = Recurrence(start, "UTC")
    assert one_off.upcoming(datetime(2026, 4, 1, tzinfo=UTC), 5) == [start]
    assert one_off.after(start) is None


def test_count_and_until_end_a_rule() -> None:
    start = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    assert len(Recurrence(start, "UTC", "FREQ=DAILY;COUNT=3").upcoming(start, 10)) == 3
    until = Recurrence(start, "UTC", "RRULE:FREQ=DAILY;UNTIL=20260503T235959Z")
    assert len(until.upcoming(start, 10)) == 3


@pytest.mark.parametrize(
    ("rule", "zone", "code"),
    [
        ("FREQ=SECONDLY", "UTC", "invalid_frequency"),
        ("FREQ=FORTNIGHTLY", "UTC", "invalid_frequency"),
        ("INTERVAL=2", "UTC", "invalid_frequency"),
        ("DTSTART:20200101T000000\nRRULE:FREQ=DAILY", "UTC", "invalid_rule"),
        ("FREQ=DAILY;BYHOUR=25", "UTC", "invalid_rule"),
        ("FREQ=DAILY;BYDAY=XX", "UTC", "invalid_rule"),
        ("FREQ=DAILY", "Mars/Olympus_Mons", "invalid_timezone"),
        ("FREQ=DAILY", "../../etc/passwd", "invalid_timezone"),
    ],
)
def test_bad_rules_and_zones_are_refused(rule: str, zone: str, code: str) -> None:
    with pytest.raises(RecurrenceError) as refused:
        Recurrence(datetime(2026, 5, 1, tzinfo=UTC), zone, rule).validate()
    assert refused.value.code == code


def test_a_rule_that_occurs_only_in_leap_years_is_taken() -> None:
    leap = Recurrence(
        starts_at=datetime(2027, 3, 1, 9, tzinfo=UTC), timezone="UTC",
        rule="FREQ=MINUTELY;INTERVAL=60;BYMONTH=2;BYMONTHDAY=29;BYHOUR=9;BYMINUTE=0",
    )  # fmt: skip
    leap.validate()
    assert leap.upcoming(datetime(2027, 3, 1, tzinfo=UTC), 2) == [
        datetime(2028, 2, 29, 9, tzinfo=UTC), datetime(2032, 2, 29, 9, tzinfo=UTC)
    ]  # fmt: skip


def test_a_stored_rule_that_never_occurs_has_no_occurrences() -> None:
    # Saved before validation refused it: every look used to walk to year 9999.
    never = Recurrence(
        starts_at=datetime(2027, 1, 1, tzinfo=UTC), timezone="Europe/Paris",
        rule="FREQ=MINUTELY;BYMONTH=2;BYMONTHDAY=30",
    )  # fmt: skip
    with pytest.raises(RecurrenceError) as refused:
        never.validate()
    assert refused.value.code == "never_occurs"
    assert never.upcoming(datetime(2027, 1, 1, tzinfo=UTC), 5) == []
    assert never.after(datetime(2027, 1, 1, tzinfo=UTC)) is None
