"""Migration 0002 backfills what 0001 rows imply: which API plays an import matched, and when the
plays an extended record described started (SQLite and MariaDB)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from spotify_pipeline.warehouse import schema as s
from spotify_pipeline.warehouse.engine import current_revision, make_engine, upgrade

T = datetime(2024, 3, 1, 8, 15, 12, 700_000, tzinfo=UTC)


def test_0002_backfills_matched_import_and_start(warehouse_url: str) -> None:
    engine = make_engine(warehouse_url)
    upgrade(engine, "0001")
    base = {"user_id": "alice", "loaded_at": T, "track_name": None, "artist_name": None, "ms_played": None,
            "platform": None, "track_id": None}  # fmt: skip
    with engine.begin() as conn:
        conn.execute(s.users.insert().values(id="alice", created_at=T))
        conn.execute(s.import_runs.insert(), [
            {"user_id": "alice", "source": "a.zip", "started_at": T, "status": "ok"},
            {"user_id": "alice", "source": "b.zip", "started_at": T, "status": "ok"},
            {"user_id": "alice", "source": "c.zip", "started_at": T, "status": "failed"},
        ])  # fmt: skip
        conn.execute(s.plays.insert(), [
            # an API play an extended record enriched
            {**base, "played_at": T, "source": "api", "ms_played": 200_000, "platform": "android"},
            # an API play no import matched
            {**base, "played_at": T + timedelta(hours=1), "source": "api"},
            # an extended-only play
            {**base, "played_at": T + timedelta(hours=2), "source": "export", "ms_played": 60_000, "platform": "ios"},
            # an account-data row: names and the minute only
            {**base, "played_at": datetime(2024, 3, 1, 12, 0, tzinfo=UTC), "source": "export", "ms_played": 90_000,
             "track_name": "Go Outside", "artist_name": "Cults"},
        ])  # fmt: skip
    upgrade(engine, "0002")
    assert current_revision(engine) == "0002"
    with engine.connect() as conn:
        rows = conn.execute(
            select(s.plays.c.played_at, s.plays.c.matched_import_id, s.plays.c.started_at).order_by(
                s.plays.c.played_at
            )
        ).all()
    assert [(r.matched_import_id, r.started_at) for r in rows] == [
        (2, T - timedelta(milliseconds=200_000)),  # the latest finished import of the user
        (None, None),
        (None, T + timedelta(hours=2) - timedelta(milliseconds=60_000)),
        (None, None),
    ]
    engine.dispose()
