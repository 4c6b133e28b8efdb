"""The rate-limit pause: what a 429 with a long Retry-After (or a quota answer) leaves behind.

Stored in the state store under ``paused_until`` so every later run, on any worker, skips Spotify
until it ends. A Retry-After is Spotify's word, but a header can say anything (``99999999999``
would pause until the year 5195), so the stored pause is capped at ``max_pause_seconds`` (a day by
default), on writing and again on reading (a pause written by an older version, or by hand).
``spotify-pipeline pause clear`` ends one early.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from .state import StateStore

log = logging.getLogger(__name__)

PAUSE_KEY = "paused_until"
DEFAULT_MAX_PAUSE = timedelta(days=1)


@dataclass(frozen=True)
class Pause:
    until: datetime
    reason: str
    kind: str  # "rate_limit" or "quota"

    def to_dict(self) -> dict[str, str]:
        return {"until": self.until.isoformat(), "reason": self.reason, "kind": self.kind}


def cap(until: datetime, now: datetime, max_pause: timedelta) -> datetime:
    """``until``, or ``now + max_pause`` when that is sooner."""
    return min(until, now + max_pause)


def record_pause(
    state: StateStore,
    now: datetime,
    seconds: float | None,
    default: timedelta,
    *,
    reason: str,
    kind: str,
    endpoint: str,
    max_pause: timedelta,
) -> Pause:
    """Store a pause of ``seconds`` (``default`` when None), capped at ``max_pause``."""
    wanted = default if seconds is None else _delta(seconds, max_pause)
    until = now + min(wanted, max_pause)
    if wanted > max_pause:
        reason += f"; paused {max_pause.total_seconds():.0f} s at most (max_pause_seconds)"
    state.set(
        PAUSE_KEY,
        {
            "until": until.isoformat(),
            "reason": reason,
            "kind": kind,
            "endpoint": endpoint,
            "set_at": now.isoformat(),
        },
    )
    return Pause(until, reason, kind)


def _delta(seconds: float, max_pause: timedelta) -> timedelta:
    try:
        return timedelta(seconds=seconds)
    except OverflowError:  # more days than a timedelta holds: more than any cap anyway
        return max_pause + timedelta(seconds=1)


def read_pause(state: StateStore, now: datetime, max_pause: timedelta = DEFAULT_MAX_PAUSE) -> Pause | None:
    """The recorded pause while it lasts, capped at ``max_pause`` after it was set; else None."""
    entry = state.get(PAUSE_KEY)
    if not entry or "until" not in entry:
        return None
    try:
        until = datetime.fromisoformat(str(entry["until"]))
        if until.tzinfo is None:
            raise ValueError("no time zone")
    except ValueError:
        log.warning("state %r holds an unreadable time %r; ignoring the pause", PAUSE_KEY, entry["until"])
        return None
    try:
        set_at = datetime.fromisoformat(str(entry.get("set_at")))
        if set_at.tzinfo is None or set_at > now:
            set_at = now
    except ValueError:
        set_at = now
    until = cap(until, set_at, max_pause)
    if until <= now:
        return None
    kind = "quota" if entry.get("kind") == "quota" else "rate_limit"
    return Pause(until, str(entry.get("reason", "rate limited by Spotify")), kind)


def clear_pause(state: StateStore, now: datetime, max_pause: timedelta = DEFAULT_MAX_PAUSE) -> Pause | None:
    """End the pause now; returns the pause that was in force (None when there was none)."""
    current = read_pause(state, now, max_pause)
    if state.get(PAUSE_KEY):
        state.set(PAUSE_KEY, {"cleared_at": now.isoformat()})
    return current
