"""What `spotify-pipeline status` shows: counts, last fetches, open gaps, token life, pause."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from ..clock import Clock
from ..errors import PipelineError
from ..settings import Settings
from ..warehouse import reads
from .runtime import Runtime

REFRESH_WARN_DAYS = (30, 7)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def token_status(rt: Runtime) -> dict[str, Any]:
    """Days left of the 6-month refresh-token life, counted from consent, with warnings."""

    try:
        state = rt.token_store.load()
    except PipelineError as exc:
        return {"logged_in": False, "problem": str(exc)}
    if state is None:
        return {"logged_in": False, "problem": "not logged in: run `spotify-pipeline auth login`"}
    now = rt.clock.now()
    days = state.days_left(now)
    out: dict[str, Any] = {
        "logged_in": True,
        "client_id": state.client_id,
        "scope": state.scope,
        "consented_at": _iso(state.consented_at),
        "access_token_expires_at": _iso(state.expires_at),
        # Whole days, rounded up: "182 days left" right after consent, not 181.99...
        "refresh_token_days_left": max(0, math.ceil(days)),
        "warning": None,
    }
    exact, days = days, max(0, math.ceil(days))
    if exact <= 0:
        out["warning"] = "the refresh token has expired: run `spotify-pipeline auth login` again"
    else:
        for limit in sorted(REFRESH_WARN_DAYS):
            if days <= limit:
                out["warning"] = (
                    f"the refresh token expires in {days} days (6 months after consent): "
                    "run `spotify-pipeline auth login` before then"
                )
                break
    return out


def duration_text(seconds: float) -> str:
    """``3 days 4 h``, ``2 h 5 min``, ``12 min``: how long, for a person."""
    minutes = int(seconds // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} day{'s' if days != 1 else ''}" + (f" {hours} h" if hours else "")
    if hours:
        return f"{hours} h" + (f" {mins} min" if mins else "")
    return f"{mins} min" if mins else f"{int(seconds)} s"


def _fetch_summary(row: dict[str, Any] | None, now: datetime) -> dict[str, Any] | None:
    if row is None:
        return None
    started = row["started_at"]
    return {
        "started_at": _iso(started),
        "finished_at": _iso(row.get("finished_at")),
        "status": row["status"],
        "age_seconds": round((now - started).total_seconds()),
        "message": row.get("message"),
    }


def stale_fetch_warning(
    last_recent: dict[str, Any] | None, expected_minutes: float, now: datetime
) -> str | None:
    """A warning when no recently-played fetch started for over twice the expected interval."""
    if last_recent is None:
        return "no fetch has run yet: run `spotify-pipeline run` (from cron or Airflow)"
    age = (now - datetime.fromisoformat(last_recent["started_at"])).total_seconds()
    if age > 2 * expected_minutes * 60:
        return (
            f"the last fetch started {duration_text(age)} ago, more than twice the expected "
            f"{duration_text(expected_minutes * 60)} (setting expected_poll_minutes): is cron running?"
        )
    return None


def status(
    settings: Settings, *, clock: Clock | None = None, runtime: Runtime | None = None
) -> dict[str, Any]:
    """Everything `status` shows, JSON-ready (ISO 8601 times, seconds for durations)."""

    rt = Runtime.resolve(settings, runtime, clock=clock)
    user = settings.user
    now = rt.clock.now()
    with rt.engine.connect() as conn:
        counts = reads.counts(conn, user)
        last_recent = reads.last_fetch(conn, user, "recently_played")
        last_following = reads.last_fetch(conn, user, "following_artists")
        gaps = reads.open_gaps(conn, user)
    pause = rt.state.get("paused_until")
    paused_until = pause.get("until") if pause else None
    if paused_until and datetime.fromisoformat(paused_until) <= now:
        paused_until = None
    recent = _fetch_summary(last_recent, now)
    warnings = [w for w in [stale_fetch_warning(recent, settings.expected_poll_minutes, now)] if w]
    return {
        "user": user,
        "raw_zone": settings.raw_zone,
        "warehouse": settings.masked()["warehouse_url"],
        "counts": counts,
        "last_fetch": {
            "recently_played": recent,
            "following_artists": _fetch_summary(last_following, now),
        },
        "open_gaps": [
            {"from": _iso(g["gap_from"]), "to": _iso(g["gap_to"]), "detected_at": _iso(g["detected_at"])}
            for g in gaps
        ],
        "token": token_status(rt),
        "paused_until": paused_until,
        "pause_reason": pause.get("reason") if pause and paused_until else None,
        "warnings": warnings,
    }
