"""UTC offsets of a time zone over a range of instants, so SQL can count in local time on every
engine without time-zone tables in the database (MariaDB's ``CONVERT_TZ`` needs them loaded,
SQLite has none).

Between two transitions a zone's offset is constant; a period of ten years has about twenty of
them. The queries turn the list into ``CASE WHEN played_at < t1 THEN o0 WHEN ... END`` seconds
added to the UTC time, and Python turns a local hour number back into a local date and hour.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

EPOCH = datetime(1970, 1, 1)  # naive: local hour numbers count from a local 1970-01-01 00:00
_STEP = timedelta(hours=12)  # no zone changes its offset twice within 12 hours


def offset_seconds(zone: ZoneInfo, at: datetime) -> int:
    offset = at.astimezone(zone).utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


def offset_segments(zone: ZoneInfo, start: datetime, end: datetime) -> list[tuple[datetime | None, int]]:
    """``[(None, o0), (t1, o1), (t2, o2), ...]``: offset ``o0`` before ``t1``, ``o1`` from ``t1``
    on, ...; the transitions ``t`` found between ``start`` and ``end`` to the second."""
    segments: list[tuple[datetime | None, int]] = [(None, offset_seconds(zone, start))]
    t = start
    while t < end:
        nxt = min(t + _STEP, end)
        if offset_seconds(zone, nxt) != segments[-1][1]:
            segments.append((_transition(zone, t, nxt), offset_seconds(zone, nxt)))
        t = nxt
    return segments


def _transition(zone: ZoneInfo, lo: datetime, hi: datetime) -> datetime:
    """The first second in ``(lo, hi]`` with ``hi``'s offset (bisection)."""
    target = offset_seconds(zone, hi)
    while hi - lo > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        mid = mid.replace(microsecond=0)
        if mid <= lo:
            break
        if offset_seconds(zone, mid) == target:
            hi = mid
        else:
            lo = mid
    return hi.astimezone(UTC)


def local_hour_start(hour_number: int) -> datetime:
    """Naive local start of the hour numbered ``hour_number`` (hours since local 1970-01-01)."""
    return EPOCH + timedelta(hours=hour_number)


def local_day(at: datetime, zone: ZoneInfo) -> date:
    return at.astimezone(zone).date()
