"""When a scheduled action occurs: one time, or an RFC 5545 RRULE in a time zone.

Django-free. Occurrences are computed on local wall time in the action's zone (the
rule's DTSTART carries a zoneinfo tzinfo), so 09:00 Europe/Paris stays 09:00 across
a DST change while its UTC instant moves an hour; they are compared and stored in UTC.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import rrule, rrulestr

# A rule more frequent than this is refused from the API: an operator schedules
# broadcasts, not a busy loop (tests build faster rules on the model directly).
ALLOWED_FREQUENCIES = ("MINUTELY", "HOURLY", "DAILY", "WEEKLY", "MONTHLY", "YEARLY")
# Never walk more occurrences than this in one look (a MINUTELY rule after a week down).
MAX_WALK = 1000
# A rule must occur within this many years of its start. dateutil walks a rule that
# never matches (FREQ=MINUTELY;BYMONTH=2;BYMONTHDAY=30) day by day to year 9999 before
# it says so: seconds of CPU on every look. A rule that matches at all matches again
# within one 400-year Gregorian cycle, so one bounded check at validation bounds them all.
OCCURS_WITHIN_YEARS = 10
# The Gregorian calendar repeats every 400 years, weekdays included (146,097 days).
_CYCLE_YEARS = 400


class RecurrenceError(ValueError):
    """A rule or zone that cannot be used; `code` is the API error code's reason."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(code)
        self.code = code
        self.detail = detail


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise RecurrenceError("invalid_timezone") from None


def _as_utc(moment: datetime) -> datetime:
    # A wall time that does not exist (02:30 on a spring-forward night) is read with the
    # offset before the change (fold=0), so it runs at 03:30 local: once, never skipped.
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class Recurrence:
    """An action's timing: its first time, its zone and an optional rule."""

    starts_at: datetime  # aware
    timezone: str
    rule: str = ""

    def _rrule(self) -> rrule | None:
        if not self.rule:
            return None
        local_start = self.starts_at.astimezone(zone(self.timezone))
        try:
            parsed = rrulestr(self.rule, dtstart=local_start, cache=False)
        except (ValueError, TypeError, AttributeError, OverflowError):
            raise RecurrenceError("invalid_rule") from None
        if not isinstance(parsed, rrule):  # an RRULE set (EXRULE, RDATE…) is not taken
            raise RecurrenceError("invalid_rule")
        return parsed

    def validate(self, *, allow_any_frequency: bool = False) -> None:
        zone(self.timezone)
        if not self.rule:
            return
        upper = self.rule.upper().removeprefix("RRULE:")
        # One RRULE line only: DTSTART comes from starts_at, and a set (EXDATE, RDATE) is
        # not taken; a colon or a line break means the client sent more than a rule.
        if ":" in upper or "\n" in upper or "\r" in upper:
            raise RecurrenceError("invalid_rule")
        parts = self._parts()
        if not allow_any_frequency and (
            parts.get("FREQ") not in ALLOWED_FREQUENCIES or "BYSECOND" in parts
        ):
            # BYSECOND would make a MINUTELY rule fire up to 60 times a minute.
            raise RecurrenceError("invalid_frequency")
        self._rrule()
        if not self._occurs_within(parts, OCCURS_WITHIN_YEARS):
            raise RecurrenceError("never_occurs")

    def _parts(self) -> dict[str, str]:
        upper = self.rule.upper().removeprefix("RRULE:")
        return dict(part.split("=", 1) for part in upper.split(";") if "=" in part)

    def _occurs_within(self, parts: dict[str, str], years: int) -> bool:
        """Whether the rule (COUNT and UNTIL aside) has an occurrence within `years` of
        its start, found in a walk of at most `years` + 400 years.

        The start moves by whole 400-year cycles to just before year 9999 - `years`
        (same weekdays, same leap years, same phase of the interval), so dateutil's walk
        ends at its calendar's end soon after, match or none.
        """
        local = self.starts_at.astimezone(zone(self.timezone)).replace(tzinfo=None)
        cycles = (9999 - years - local.year) // _CYCLE_YEARS
        shifted = local.replace(year=local.year + cycles * _CYCLE_YEARS)
        unbounded = ";".join(
            f"{key}={value}" for key, value in parts.items() if key not in ("COUNT", "UNTIL")
        )
        try:
            first = next(iter(rrulestr(unbounded, dtstart=shifted, cache=False)), None)
        except (ValueError, TypeError, AttributeError, OverflowError):
            raise RecurrenceError("invalid_rule") from None
        return first is not None and first.year - shifted.year <= years

    def _walk(self, moment: datetime, *, inclusive: bool) -> Iterator[datetime]:
        """Occurrences from `moment` on, in UTC, in order; at most MAX_WALK of them."""
        rule = self._rrule()
        if rule is None:
            first = _as_utc(self.starts_at)
            if first > moment or (inclusive and first == moment):
                yield first
            return
        # A rule saved before validation refused those that never match (or made by
        # hand) would walk to year 9999 on every look: one 400-year cycle decides it.
        if not self._occurs_within(self._parts(), _CYCLE_YEARS):
            return
        # Wall times compare without their fold within one zone: start an hour early
        # and keep only what is after `moment` as an instant.
        local = (moment - timedelta(hours=1)).astimezone(zone(self.timezone))
        for found in rule.xafter(local, count=MAX_WALK + 2, inc=True):
            instant = _as_utc(found)
            if instant > moment or (inclusive and instant == moment):
                yield instant

    def after(self, moment: datetime, *, inclusive: bool = False) -> datetime | None:
        """The first occurrence after `moment` (at it too when inclusive), in UTC."""
        return next(self._walk(moment, inclusive=inclusive), None)

    def between(self, start: datetime, end: datetime) -> list[datetime]:
        """Occurrences at or after `start` and at or before `end`, in UTC; at most MAX_WALK."""
        found: list[datetime] = []
        for moment in self._walk(start, inclusive=True):
            if moment > end or len(found) >= MAX_WALK:
                break
            found.append(moment)
        return found

    def upcoming(self, moment: datetime, count: int) -> list[datetime]:
        """The next `count` occurrences at or after `moment`, in UTC."""
        return list(islice(self._walk(moment, inclusive=True), count))
