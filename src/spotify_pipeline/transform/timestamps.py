"""Spotify timestamps -> aware UTC datetimes, kept to the millisecond.

``played_at`` arrives as ISO-8601 UTC with milliseconds and ``Z`` ("2023-09-22T15:43:33.750Z");
older captures and the general API docs also allow no fraction. Anything looser (no offset, a date
alone, a space instead of ``T``) is rejected rather than guessed: a play's identity is
(user, played_at to the ms), so a mis-parsed time would silently duplicate or merge plays.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})"
    r"(?:\.(\d{1,9}))?"
    r"(Z|[+-]\d{2}:\d{2})",
    re.ASCII,
)


def parse_played_at(value: str) -> datetime:
    """Parse an ISO-8601 timestamp with an explicit offset into an aware UTC datetime.

    The fraction is optional; digits beyond the millisecond are truncated (never rounded, so a
    time never moves into the next second). Raises ``ValueError`` naming the value otherwise.
    """
    if not isinstance(value, str):
        raise ValueError(f"timestamp {value!r} is not a string")
    match = _ISO.fullmatch(value)
    if match is None:
        raise ValueError(
            f"timestamp {value!r} is not ISO-8601 with an offset (e.g. 2023-09-22T15:43:33.750Z)"
        )
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    millis = int((fraction or "0")[:3].ljust(3, "0"))
    tz = UTC
    if offset != "Z":
        sign = 1 if offset[0] == "+" else -1
        hours, minutes = int(offset[1:3]), int(offset[4:6])
        if hours > 23 or minutes > 59:
            raise ValueError(f"timestamp {value!r} has an invalid UTC offset")
        tz = timezone(sign * timedelta(hours=hours, minutes=minutes))
    try:
        parsed = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), millis * 1000, tzinfo=tz
        )
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise ValueError(f"timestamp {value!r} is not a valid date and time: {exc}") from None


def format_played_at(when: datetime) -> str:
    """The API's own spelling of an aware datetime: ``2023-09-22T15:43:33.750Z`` (inverse of the parser)."""
    if when.tzinfo is None:
        raise ValueError(f"datetime {when!r} has no timezone; pass an aware UTC datetime")
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
