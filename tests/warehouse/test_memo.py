"""WriteMemo: a run skips the rows it already wrote, and the warehouse ends exactly as without it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, select
from sqlalchemy.exc import DBAPIError

from spotify_pipeline.transform import recently_played_rows
from spotify_pipeline.transform.rows import ArtistRow, TrackRow
from spotify_pipeline.warehouse import schema as s
from spotify_pipeline.warehouse import upsert as upsert_module
from spotify_pipeline.warehouse import writes
from spotify_pipeline.warehouse.memo import WriteMemo

from .helpers import T0, synthetic_page

CATALOG = (s.users, s.plays, s.tracks, s.albums, s.artists, s.track_artists, s.album_artists)


def _dump(conn: Connection) -> dict[str, list[tuple[Any, ...]]]:
    out = {}
    for table in CATALOG:
        rows = [tuple(r) for r in conn.execute(select(table))]
        out[table.name] = sorted(rows, key=repr)
    return out


def _pages() -> list[Any]:
    # Hourly polls of a busy listener: each page repeats most of the previous one's plays and tracks.
    return [synthetic_page(T0 + timedelta(hours=h), 50, step=timedelta(minutes=2)) for h in range(4)]


def _load(engine: Engine, memo: WriteMemo | None) -> None:
    for h, page in enumerate(_pages()):
        rows = recently_played_rows(page, "alice", f"recently_played/20261129{h:02d}.json")
        guard = memo.transaction() if memo is not None else _nothing()
        with guard, engine.begin() as conn:
            writes.ensure_user(conn, "alice", T0, memo=memo)
            writes.save_recently_played(conn, rows, loaded_at=T0 + timedelta(hours=h), memo=memo)
        if h == 1:  # a full artist fetched in between: a later simplified copy must not undo it
            full = ArtistRow(
                "0" * 22, "Full Name", None, genres=("rock",), popularity=40, followers=9, full=True
            )
            guard = memo.transaction() if memo is not None else _nothing()
            with guard, engine.begin() as conn:
                writes.save_artists_full(conn, [full], fetched_at=T0, memo=memo)


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def test_the_same_warehouse_with_and_without_the_memo(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[int] = []
    real = upsert_module._executemany

    def counting(conn: Connection, table: Any, statement: Any, chunk: Any) -> int:
        sent.append(len(chunk))
        return real(conn, table, statement, chunk)

    monkeypatch.setattr(upsert_module, "_executemany", counting)
    _load(engine, None)
    sent_without = sum(sent)
    with engine.connect() as conn:
        without = _dump(conn)
        for table in reversed(CATALOG):
            conn.execute(table.delete())
        conn.commit()
    sent.clear()
    memo = WriteMemo()
    _load(engine, memo)
    with engine.connect() as conn:
        assert _dump(conn) == without
    # The pages overlap (the same 40 tracks, many of the same plays): most rows are not sent again.
    assert sum(sent) < sent_without / 2
    assert len(memo) > 0


def test_rows_of_a_rolled_back_transaction_are_written_again(engine: Engine) -> None:
    memo = WriteMemo()
    track = TrackRow("t" * 22, "Song", None, 1000, False, None, 1, 1, None, None)
    rows = recently_played_rows(synthetic_page(T0, 1), "alice", "recently_played/2026112910.json")
    with pytest.raises(DBAPIError), memo.transaction(), engine.begin() as conn:
        writes.ensure_user(conn, "alice", T0, memo=memo)
        writes.save_recently_played(conn, rows, loaded_at=T0, memo=memo)
        conn.exec_driver_sql("SELECT * FROM no_such_table")  # fails: the transaction rolls back
    assert len(memo) == 0
    with memo.transaction(), engine.begin() as conn:
        writes.ensure_user(conn, "alice", T0, memo=memo)
        assert writes.save_recently_played(conn, rows, loaded_at=T0, memo=memo) == 1
    with engine.connect() as conn:
        assert conn.execute(select(s.plays.c.track_id)).scalars().all() == [rows.plays[0].track_id]
    assert memo.changed("tracks", [track], lambda t: t.id, lambda t: t) == [track]  # outside: nothing known


def test_identical_rows_are_skipped_and_changed_ones_sent() -> None:
    memo = WriteMemo()
    with memo.transaction():
        assert memo.new_keys("plays", [1, 2], lambda p: p) == [1, 2]
        assert memo.changed("tracks", [("a", 1)], lambda t: t[0], lambda t: t[1]) == [("a", 1)]
    with memo.transaction():
        assert memo.new_keys("plays", [2, 3], lambda p: p) == [3]
        assert memo.changed("tracks", [("a", 1), ("a", 2)], lambda t: t[0], lambda t: t[1]) == [("a", 2)]
        # an insert-only write of a key an upsert wrote is a no-op; an upsert after an insert is not
        assert memo.new_keys("tracks", [("a", 9)], lambda t: t[0]) == []
        assert memo.new_keys("artists", ["x"], lambda a: a) == ["x"]
        assert memo.changed("artists", ["x"], lambda a: a, lambda a: "full") == ["x"]
    with pytest.raises(RuntimeError), memo.transaction(), memo.transaction():
        pass


def test_rows_of_a_rolled_back_savepoint_are_forgotten_and_the_rest_kept() -> None:
    """process writes objects in one transaction with a savepoint each: a savepoint rolled back
    (its object quarantined) must not leave its rows counted as written, the others must stay."""
    memo = WriteMemo()
    memo.begin()
    with memo.savepoint():
        assert memo.new_keys("plays", [1, 2], key=lambda k: k) == [1, 2]
    with pytest.raises(RuntimeError), memo.savepoint():
        assert memo.new_keys("plays", [2, 3], key=lambda k: k) == [3]  # 2: written by the savepoint before
        raise RuntimeError("the object's write failed")
    with memo.savepoint():
        assert memo.new_keys("plays", [3], key=lambda k: k) == [3]  # 3 was rolled back: written again
    assert len(memo) == 0  # nothing is known written before the commit
    memo.commit()
    assert len(memo) == 2 + 1
    memo.begin()
    assert memo.new_keys("plays", [1, 2, 3, 4], key=lambda k: k) == [4]
    memo.rollback()
    memo.begin()
    assert memo.new_keys("plays", [4], key=lambda k: k) == [4]  # the rolled-back transaction's 4
    memo.commit()
    with pytest.raises(RuntimeError, match="outside a transaction"), memo.savepoint():
        pass


def test_a_value_overwritten_in_a_rolled_back_savepoint_is_the_earlier_one_again() -> None:
    """The memo keeps one value per key and undoes a rolled-back level's writes in reverse order:
    a value changed (A -> B -> C) inside a savepoint that failed is A again, in the transaction and
    after a rollback of the transaction too."""
    memo = WriteMemo()
    same = lambda r: r[0]  # noqa: E731
    val = lambda r: r[1]  # noqa: E731
    memo.begin()
    assert memo.changed("tracks", [("t", "A")], same, val) == [("t", "A")]
    memo.commit()
    memo.begin()
    with pytest.raises(RuntimeError), memo.savepoint():
        assert memo.changed("tracks", [("t", "B"), ("t", "C"), ("u", "X")], same, val) == [
            ("t", "B"), ("t", "C"), ("u", "X")
        ]  # fmt: skip
        raise RuntimeError("the object's write failed")
    assert memo.changed("tracks", [("t", "A"), ("u", "X")], same, val) == [("u", "X")]
    with memo.savepoint():
        assert memo.changed("tracks", [("t", "B")], same, val) == [("t", "B")]
    memo.rollback()
    memo.begin()
    assert memo.changed("tracks", [("t", "A"), ("u", "X")], same, val) == [("u", "X")]
    assert memo.new_keys("tracks", ["t", "v"], key=lambda k: k) == ["v"]
    memo.commit()
    assert len(memo) == 3
