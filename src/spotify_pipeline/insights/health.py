"""The pipeline's health as a reader sees it: last fetch of each kind and its age, open gaps with
their length and remedy, capture coverage per day (API vs export), refresh-token days left and any
429 pause. Read-only; never a token or secret, only the numbers about them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine

from ..errors import PipelineError
from ..spotify.tokens import TokenStore
from . import queries as q
from .coverage import CoverageDay, coverage
from .period import Period
from .results import _Result

GAP_REMEDY = (
    "plays in this span fell out of Spotify's 50-play window before a poll: import a privacy export "
    "that covers it (`spotify-pipeline import-history`) and the gap closes"
)


@dataclass(frozen=True)
class LastFetch(_Result):
    user: str
    kind: str  # recently_played | following_artists
    started_at: datetime
    status: str
    age_hours: float  # since started_at
    message: str | None


@dataclass(frozen=True)
class OpenGap(_Result):
    user: str
    gap_from: datetime
    gap_to: datetime
    minutes: float
    detected_at: datetime
    remedy: str


@dataclass(frozen=True)
class TokenHealth(_Result):
    logged_in: bool
    days_left: float | None  # of the refresh token's 6-month life; negative once past
    problem: str | None


@dataclass(frozen=True)
class Pause(_Result):
    until: datetime
    reason: str | None


@dataclass(frozen=True)
class Health(_Result):
    user: str | None
    now: datetime
    last_fetches: tuple[LastFetch, ...]
    open_gaps: tuple[OpenGap, ...]
    coverage: tuple[CoverageDay, ...]  # per UTC day of the period
    token: TokenHealth
    pause: Pause | None  # a 429 pause still running


def token_health(store: TokenStore | None, now: datetime) -> TokenHealth:
    if store is None:
        return TokenHealth(False, None, "no token store given")
    try:
        state = store.load()
    except PipelineError as exc:
        return TokenHealth(False, None, str(exc))
    if state is None:
        return TokenHealth(False, None, "not logged in: run `spotify-pipeline auth login`")
    return TokenHealth(True, round(state.days_left(now), 1), None)


def _pause(raw: str | None, now: datetime) -> Pause | None:
    if not raw:
        return None
    value: dict[str, Any] = json.loads(raw)
    until = value.get("until")
    if not until:
        return None
    at = datetime.fromisoformat(until)
    return Pause(at, value.get("reason")) if at > now else None


def health(
    engine: Engine, user: str | None, period: Period, now: datetime, token_store: TokenStore | None = None
) -> Health:
    """The health of ``user``'s capture (None: every user), coverage limited to ``period``."""
    with engine.connect() as conn:
        fetches = tuple(
            LastFetch(
                r["user_id"],
                r["kind"],
                r["started_at"],
                r["status"],
                round((now - r["started_at"]).total_seconds() / 3600, 1),
                r["message"],
            )  # fmt: skip
            for r in q.last_fetches(conn, user)
        )
        gaps = tuple(
            OpenGap(
                r["user_id"],
                r["gap_from"],
                r["gap_to"],
                round((r["gap_to"] - r["gap_from"]).total_seconds() / 60, 1),
                r["detected_at"],
                GAP_REMEDY,
            )  # fmt: skip
            for r in q.open_gaps(conn, user)
        )
        pause = _pause(q.app_state(conn, "paused_until"), now)
        names = [user] if user is not None else q.user_ids(conn)
    days: dict[Any, CoverageDay] = {}
    for name in names:
        for day in coverage(engine, name, period.start_utc, period.end_utc):
            days[day.day] = _add(days[day.day], day) if day.day in days else day
    return Health(user, now, fetches, gaps, tuple(days[d] for d in sorted(days)),
                  token_health(token_store, now), pause)  # fmt: skip


def _add(a: CoverageDay, b: CoverageDay) -> CoverageDay:
    return CoverageDay(a.day, a.api_plays + b.api_plays, a.export_plays + b.export_plays,
                       a.matched + b.matched, a.api_only + b.api_only, a.export_only + b.export_only)  # fmt: skip
