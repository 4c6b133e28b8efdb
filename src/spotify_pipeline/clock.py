"""Clocks. Every job takes one, so tests and the demo can run 30 days in seconds.

All times are timezone-aware UTC datetimes.
"""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...


class SystemClock:
    """Wall-clock time."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that only moves when told to: shared by the simulator and the jobs in tests and the demo."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware start time")
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta | float) -> datetime:
        if not isinstance(delta, timedelta):
            delta = timedelta(seconds=delta)
        if delta < timedelta(0):
            raise ValueError("a clock does not go backwards")
        with self._lock:
            self._now += delta
            return self._now

    def set(self, when: datetime) -> None:
        if when.tzinfo is None:
            raise ValueError("ManualClock needs timezone-aware times")
        with self._lock:
            self._now = when.astimezone(UTC)


def to_ms(when: datetime) -> int:
    """Unix milliseconds of an aware datetime."""
    return int(round(when.timestamp() * 1000))


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


# --- time zones (the `timezone` setting) -----------------------------------------------------------


def system_timezone() -> str:
    """The IANA name of this machine's time zone (``TZ``, ``/etc/timezone``, ``/etc/localtime``),
    ``UTC`` when none can be found: the default of the ``timezone`` setting."""
    candidates = [os.environ.get("TZ", "").lstrip(":")]
    try:
        candidates.append(Path("/etc/timezone").read_text(encoding="utf-8").strip())
    except OSError:
        pass
    try:
        target = str(Path("/etc/localtime").resolve())
        if "zoneinfo/" in target:
            candidates.append(target.split("zoneinfo/", 1)[1])
    except OSError:
        pass
    for name in candidates:
        if name and _is_zone(name):
            return name
    return "UTC"


def _is_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ValueError, OSError):  # ZoneInfoNotFoundError is a KeyError subclass: caught below
        return False
    except KeyError:
        return False
    return True


def check_timezone(name: str) -> str:
    """``name`` if it is an IANA time zone name, else a ValueError saying what to write instead."""
    if not _is_zone(name):
        raise ValueError(f"{name!r} is not an IANA time zone name: use e.g. Europe/Berlin or UTC")
    return name
