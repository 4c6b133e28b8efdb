"""Small builders shared by the warehouse tests."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, select
from tests.conftest import load_fixture

from spotify_pipeline.transform import format_played_at
from spotify_pipeline.warehouse import schema as s

T0 = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)


def page_2023() -> dict[str, Any]:
    return load_fixture("api/recently-played_2023-09_limit2.json")


def synthetic_page(
    start: datetime, n: int, *, step: timedelta = timedelta(minutes=3), track_prefix: str = "t"
) -> dict[str, Any]:
    """A page of ``n`` plays, newest first, built from the 2023 capture's first item."""
    template = page_2023()["items"][0]
    items = []
    for k in reversed(range(n)):
        item = copy.deepcopy(template)
        track_id = f"{track_prefix}{k % 40:021d}"
        item["track"]["id"] = track_id
        item["track"]["uri"] = f"spotify:track:{track_id}"
        item["played_at"] = format_played_at(start + k * step)
        items.append(item)
    return {"items": items, "cursors": None, "next": None, "limit": 50}


def count(conn: Connection, table: Any) -> int:
    return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def distinct_plays(conn: Connection) -> int:
    key = select(s.plays.c.user_id, s.plays.c.played_at).distinct().subquery()
    return int(conn.execute(select(func.count()).select_from(key)).scalar_one())
