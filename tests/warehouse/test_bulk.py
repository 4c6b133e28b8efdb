"""``bulk.insert_ignore_bulk`` (the import's MySQL/MariaDB insert) stores exactly what
``upsert.insert_ignore`` stores, counts the same rows, refuses the same rows, on every engine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.exc import StatementError

from spotify_pipeline.warehouse import bulk, writes
from spotify_pipeline.warehouse import schema as s
from spotify_pipeline.warehouse.upsert import RowRejected, insert_ignore

from .helpers import T0


def _row(n: int, **changes: Any) -> dict[str, Any]:
    at = T0 + timedelta(seconds=200 * n, milliseconds=n % 10)
    row = {
        "user_id": "alice", "played_at": at, "track_id": f"{n % 7:022d}", "track_name": f"Song {n % 5} 'quoted' 100%",
        "artist_name": "Björk \\ Ø", "album_name": None if n % 3 else "Album", "context_type": None,
        "context_uri": None, "source": "export", "ms_played": 1000 + n, "reason_start": "trackdone",
        "reason_end": "fwdbtn" if n % 2 else "trackdone", "shuffle": bool(n % 2), "skipped": n % 4 == 0,
        "offline": False, "incognito": False, "platform": "android", "country": "DE", "raw_key": None,
        "import_id": 7, "loaded_at": T0, "matched_import_id": None, "started_at": at - timedelta(seconds=90),
    }  # fmt: skip
    row.update(changes)
    return row


def _stored(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(s.plays).order_by(s.plays.c.played_at))]


def _empty_plays(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(s.plays.delete())


def test_the_same_rows_as_insert_ignore_and_the_same_count(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [_row(n) for n in range(2_500)]
    rows[10]["track_name"] = "x" * 70_000  # a long name: its statement takes fewer rows
    rows[11]["offline"] = None  # a shared value that is not shared by every row
    monkeypatch.setattr(bulk, "MAX_TEXT", 100_000)
    with engine.begin() as conn:
        writes.ensure_user(conn, "alice", T0)
        assert insert_ignore(conn, s.plays, rows) == 2_500
    expected = _stored(engine)
    _empty_plays(engine)
    with engine.begin() as conn:
        assert bulk.insert_ignore_bulk(conn, s.plays, rows[:1]) == 1  # one row: every value shared
        assert bulk.insert_ignore_bulk(conn, s.plays, rows) == 2_499  # the first is there already
        assert bulk.insert_ignore_bulk(conn, s.plays, rows[::3]) == 0
    assert _stored(engine) == expected


def test_every_value_shared_by_the_chunk_is_still_stored(engine: Engine) -> None:
    at = datetime(2024, 3, 1, 8, tzinfo=UTC)
    rows = [
        _row(1, played_at=at + timedelta(milliseconds=ms), album_name="A", track_name="T") for ms in range(3)
    ]
    with engine.begin() as conn:
        writes.ensure_user(conn, "alice", T0)
        assert bulk.insert_ignore_bulk(conn, s.plays, rows) == 3
    stored = _stored(engine)
    assert [r[1] for r in stored] == [at, at + timedelta(milliseconds=1), at + timedelta(milliseconds=2)]
    assert {(r[3], r[5], r[14], r[20]) for r in stored} == {("T", "A", False, T0)}


def test_a_row_that_does_not_fit_or_a_naive_time_is_refused(engine: Engine) -> None:
    with engine.begin() as conn:
        writes.ensure_user(conn, "alice", T0)
    with pytest.raises(RowRejected, match="plays.country holds at most 8"), engine.begin() as conn:
        bulk.insert_ignore_bulk(conn, s.plays, [_row(1), _row(2, country="x" * 9)])
    with pytest.raises(RowRejected, match="plays: row 1 has columns"), engine.begin() as conn:
        bulk.insert_ignore_bulk(
            conn, s.plays, [_row(1), {k: v for k, v in _row(2).items() if k != "platform"}]
        )
    with (
        pytest.raises(RowRejected, match="plays.user_id is required but row 0 has none"),
        engine.begin() as conn,
    ):
        bulk.insert_ignore_bulk(conn, s.plays, [_row(1, user_id=None), _row(2, user_id=None)])
    with pytest.raises(StatementError, match="not a timezone-aware datetime"), engine.begin() as conn:
        bulk.insert_ignore_bulk(conn, s.plays, [_row(1), _row(2, started_at=datetime(2024, 1, 1))])
    assert _stored(engine) == []
