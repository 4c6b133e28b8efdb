"""Gaps in the captured history: recorded when a fetch shows plays were out of reach, closed when
an import covers them (the open ones are read with ``reads.open_gaps``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, update

from . import schema as s
from .upsert import insert_ignore
from .writes import ensure_user


def record_gap(
    conn: Connection,
    user_id: str,
    *,
    gap_from: datetime,
    gap_to: datetime,
    detected_at: datetime,
    raw_key: str | None = None,
) -> bool:
    """Record that plays between ``gap_from`` and ``gap_to`` were not reachable; True when new
    (the same gap recorded again by a re-run is not doubled)."""
    if gap_to <= gap_from:
        raise ValueError(f"gap for {user_id}: {gap_from.isoformat()} is not before {gap_to.isoformat()}")
    ensure_user(conn, user_id, detected_at)
    row = {
        "user_id": user_id,
        "gap_from": gap_from,
        "gap_to": gap_to,
        "detected_at": detected_at,
        "raw_key": raw_key,
        "closed_at": None,
        "closed_by": None,
    }
    return insert_ignore(conn, s.gaps, [row]) == 1


def close_gaps_covered(
    conn: Connection,
    user_id: str,
    *,
    start: datetime,
    end: datetime,
    closed_by: str,
    closed_at: datetime,
) -> int:
    """Close the open gaps of the user that lie wholly inside [start, end] (an import covering
    that span); return how many. A gap only partly covered stays open."""
    g = s.gaps
    result = conn.execute(
        update(g)
        .where(
            g.c.user_id == user_id,
            g.c.closed_at.is_(None),
            g.c.gap_from >= start,
            g.c.gap_to <= end,
        )
        .values(closed_at=closed_at, closed_by=closed_by)
    )
    return int(result.rowcount)
