"""The rate-limit pause: what a 429 with a long Retry-After (or a quota answer) leaves behind.

Stored in the state store under ``paused_until`` so every later run, on any worker, skips Spotify
until it ends. A Retry-After is Spotify's word, but a header can say anything (``99999999999``
would pause until the year 5195), so the stored pause is capped at ``max_pause_seconds`` (a day by
default), on writing and again on reading (a pause written by an older version, or by hand).
``spotify-pipeline pause clear`` ends one early.

``PauseGuard`` is the client's side of it: every request asks ``check`` first (raising while a
pause lasts, without touching the network), and every 429 goes to ``on_429``, which sleeps a short
Retry-After or records a pause and raises ``RateLimitPaused`` (``QuotaExceeded`` for a
QUOTA_EXCEEDED body).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NoReturn

import httpx

from ..clock import Clock
from ..errors import QuotaExceeded, RateLimitPaused
from ..redact import redact
from .retry import NO_RETRY_AFTER_PAUSE, QUOTA_REASON, retry_after_seconds
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


class PauseGuard:
    """The 429 policy of one client: short waits inside the run, long ones as a stored pause."""

    def __init__(
        self,
        *,
        state: StateStore,
        clock: Clock,
        sleep: Callable[[float], None],
        retry_after_cap: float,
        max_pause: timedelta,
        max_retries: int,
    ) -> None:
        self.state = state
        self.clock = clock
        self.sleep = sleep
        self.retry_after_cap = retry_after_cap
        self.max_pause = max_pause
        self.max_retries = max_retries

    def current(self) -> Pause | None:
        """The recorded pause, when it is still in the future (capped at ``max_pause``)."""
        return read_pause(self.state, self.clock.now(), self.max_pause)

    def check(self, endpoint: str) -> None:
        """Raise while a pause lasts, so a paused run never calls Spotify."""
        pause = self.current()
        if pause is None:
            return
        log.info("skipping %s: Spotify calls are paused until %s", endpoint, pause.until.isoformat())
        raise _raised(pause.kind)(pause.until, pause.reason)

    def on_429(self, response: httpx.Response, body: Any, endpoint: str, retry: int) -> None:
        """Sleep a short Retry-After, or record a pause and raise."""
        wait = retry_after_seconds(response.headers, self.clock.now())
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict) and error.get("reason") == QUOTA_REASON:
            self._pause(
                wait,
                f"Spotify says this app's quota is used up (429 QUOTA_EXCEEDED on {endpoint})",
                "quota",
                endpoint,
            )
        if wait is None:
            self._pause(
                None,
                f"Spotify answered 429 on {endpoint} {_retry_after_problem(response.headers)} (paused 1 h by policy)",
                "rate_limit",
                endpoint,
            )
        if wait > self.retry_after_cap:
            self._pause(
                wait,
                f"Spotify asked to wait {wait:.0f} s on {endpoint} (Retry-After), longer than the "
                f"{self.retry_after_cap:.0f} s a run waits (retry_after_cap_seconds)",
                "rate_limit",
                endpoint,
            )
        if retry >= self.max_retries:
            self._pause(
                max(wait, self.retry_after_cap),
                f"Spotify kept answering 429 on {endpoint} after {retry + 1} short waits",
                "rate_limit",
                endpoint,
            )
        log.warning("%s: 429, waiting %.1f s as Retry-After asks", endpoint, wait)
        self.sleep(wait)

    def _pause(self, seconds: float | None, reason: str, kind: str, endpoint: str) -> NoReturn:
        pause = record_pause(
            self.state,
            self.clock.now(),
            seconds,
            NO_RETRY_AFTER_PAUSE,
            reason=reason,
            kind=kind,
            endpoint=endpoint,
            max_pause=self.max_pause,
        )
        log.warning("%s; pausing Spotify calls until %s", pause.reason, pause.until.isoformat())
        raise _raised(kind)(pause.until, pause.reason)


def _raised(kind: str) -> type[RateLimitPaused]:
    return QuotaExceeded if kind == "quota" else RateLimitPaused


def _retry_after_problem(headers: httpx.Headers) -> str:
    value = headers.get("retry-after")
    if value is None:
        return "without Retry-After"
    return f"with an unusable Retry-After {redact(value.strip())[:40]!r}"
