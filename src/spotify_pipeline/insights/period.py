"""Periods in the listener's time zone, as UTC bounds the warehouse can use.

A period is a half-open range of local calendar days ``[first_day, end_day)``; its UTC bounds are
the instants of local midnight at both ends, so a day that DST makes 23 or 25 hours long is counted
whole. ``all`` has no bounds. Plays are stored in UTC; only these bounds and the bucketing in
``local.py`` know the zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from ..errors import PipelineError

PeriodName = Literal["day", "week", "month", "year", "all"]
PERIODS: tuple[PeriodName, ...] = ("day", "week", "month", "year", "all")


class InsightsError(PipelineError):
    """Bad input to a read (an unknown period or user, dates the wrong way round): one line to show."""


@dataclass(frozen=True)
class Period:
    """``first_day`` .. ``end_day`` (exclusive) in ``timezone``; both None for all of history."""

    name: str
    timezone: str
    first_day: date | None
    end_day: date | None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def start_utc(self) -> datetime | None:
        return None if self.first_day is None else local_midnight(self.first_day, self.zone)

    @property
    def end_utc(self) -> datetime | None:
        return None if self.end_day is None else local_midnight(self.end_day, self.zone)

    @property
    def last_day(self) -> date | None:
        return None if self.end_day is None else self.end_day - timedelta(days=1)

    def as_dict(self) -> dict[str, object]:
        def iso(v: date | datetime | None) -> str | None:
            return None if v is None else v.isoformat()

        return {
            "name": self.name,
            "timezone": self.timezone,
            "from": iso(self.first_day),
            "to": iso(self.last_day),
            "start_utc": iso(self.start_utc),
            "end_utc": iso(self.end_utc),
        }


def parse_day(value: str | None, name: str) -> date | None:
    """``YYYY-MM-DD`` as a date (None or "" -> None): the one reading of ``--from``/``--to`` and of
    the dashboard's ``from``/``to``; InsightsError naming ``name`` for anything else."""
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InsightsError(f"{name} {value!r} is not a date: write YYYY-MM-DD, e.g. 2026-11-30") from None


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The UTC instant at which ``day`` begins in ``zone`` (where DST skips midnight, the first
    instant after it: zoneinfo resolves the missing local time forward)."""
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


def resolve_period(
    name: str | None,
    *,
    timezone: str,
    now: datetime,
    first: date | None = None,
    last: date | None = None,
) -> Period:
    """The period ``name`` containing ``now`` (local), or the days ``first`` .. ``last`` (inclusive).

    Either bound alone is open on the other side. Raises InsightsError for an unknown name, a
    name together with dates, or ``first`` after ``last``.
    """
    if first is not None or last is not None:
        if name is not None:
            raise InsightsError("give either --period or --from/--to, not both")
        if first is not None and last is not None and first > last:
            raise InsightsError(f"--from {first} is after --to {last}")
        return Period("range", timezone, first, None if last is None else last + timedelta(days=1))
    name = name or "month"
    today = now.astimezone(ZoneInfo(timezone)).date()
    if name == "day":
        return Period(name, timezone, today, today + timedelta(days=1))
    if name == "week":  # ISO weeks: Monday first
        monday = today - timedelta(days=today.weekday())
        return Period(name, timezone, monday, monday + timedelta(days=7))
    if name == "month":
        first_of = today.replace(day=1)
        nxt = (first_of + timedelta(days=32)).replace(day=1)
        return Period(name, timezone, first_of, nxt)
    if name == "year":
        return Period(name, timezone, date(today.year, 1, 1), date(today.year + 1, 1, 1))
    if name == "all":
        return Period(name, timezone, None, None)
    raise InsightsError(f"unknown period {name!r}: use one of {', '.join(PERIODS)}")
