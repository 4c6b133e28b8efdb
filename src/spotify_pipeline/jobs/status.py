"""What `spotify-pipeline status` shows: counts, last fetches, open gaps, token life, pause."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..clock import Clock
from ..settings import Settings
from .runtime import Runtime

REFRESH_WARN_DAYS = (30, 7)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def token_status(rt: Runtime) -> dict[str, Any]:
    """Days left of the 6-month refresh-token life, counted from consent, with warnings."""
    from ..errors import PipelineError

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
        "refresh_token_days_left": days,
        "warning": None,
    }
    if days <= 0:
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


def status(
    settings: Settings, *, clock: Clock | None = None, runtime: Runtime | None = None
) -> dict[str, Any]:
    from ..warehouse import reads, writes

    rt = Runtime.resolve(settings, runtime, clock=clock)
    user = settings.user
    with rt.engine.connect() as conn:
        counts = reads.counts(conn, user)
        last_recent = reads.last_fetch(conn, user, "recently_played")
        last_following = reads.last_fetch(conn, user, "following_artists")
        gaps = writes.open_gaps(conn, user)
    pause = rt.state.get("paused_until")
    paused_until = pause.get("until") if pause else None
    if paused_until and datetime.fromisoformat(paused_until) <= rt.clock.now():
        paused_until = None
    return {
        "user": user,
        "raw_zone": settings.raw_zone,
        "warehouse": settings.masked()["warehouse_url"],
        "counts": counts,
        "last_fetch": {"recently_played": last_recent, "following_artists": last_following},
        "open_gaps": [
            {"from": _iso(g["gap_from"]), "to": _iso(g["gap_to"]), "detected_at": _iso(g["detected_at"])}
            for g in gaps
        ],
        "token": token_status(rt),
        "paused_until": paused_until,
        "pause_reason": pause.get("reason") if pause and paused_until else None,
    }
