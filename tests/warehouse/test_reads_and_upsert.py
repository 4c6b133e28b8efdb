from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, select

from spotify_pipeline.transform import PlayRow, recently_played_rows
from spotify_pipeline.warehouse import reads, writes
from spotify_pipeline.warehouse import schema as s
from spotify_pipeline.warehouse.upsert import CHUNK, RowRejected, insert_ignore, upsert

from .helpers import T0, count, page_2023, synthetic_page

MIN = timedelta(minutes=1)


def test_insert_ignore_counts_only_new_rows_across_chunks(engine: Engine) -> None:
    rows = [
        {"kind": "artist", "id": f"a{n}", "status": "404", "attempted_at": T0} for n in range(CHUNK + 300)
    ]
    with engine.begin() as conn:
        assert insert_ignore(conn, s.metadata_misses, rows[:500]) == 500
        # a mix of known and new rows, more than one chunk, and a duplicate inside the batch
        assert insert_ignore(conn, s.metadata_misses, rows + rows[-2:]) == CHUNK + 300 - 500
        assert insert_ignore(conn, s.metadata_misses, []) == 0
        assert count(conn, s.metadata_misses) == CHUNK + 300


def test_upsert_updates_and_keeps_non_null_columns(engine: Engine) -> None:
    base = {
        "id": "x",
        "name": "X",
        "uri": None,
        "genres": '["a"]',
        "popularity": 5,
        "followers": None,
        "fetched_at": T0,
    }
    with engine.begin() as conn:
        upsert(
            conn,
            s.artists,
            [base],
            ["id"],
            ["name", "fetched_at"],
            keep_cols=["genres", "popularity", "followers"],
        )
        upsert(
            conn,
            s.artists,
            [
                {
                    **base,
                    "name": "Y",
                    "genres": None,
                    "popularity": None,
                    "followers": 9,
                    "fetched_at": T0 + MIN,
                }
            ],
            ["id"],
            ["name", "fetched_at"],
            keep_cols=["genres", "popularity", "followers"],
        )
        row = conn.execute(select(s.artists)).one()
    assert (row.name, row.genres, row.popularity, row.followers, row.fetched_at) == (
        "Y",
        '["a"]',
        5,
        9,
        T0 + MIN,
    )


def test_rows_with_different_columns_are_refused(engine: Engine) -> None:
    with pytest.raises(RowRejected, match="row 1 has columns"), engine.begin() as conn:
        insert_ignore(conn, s.users, [{"id": "a", "created_at": T0}, {"id": "b"}])


def test_counts_and_top_lists(engine: Engine) -> None:
    with engine.begin() as conn:
        writes.save_recently_played(conn, recently_played_rows(page_2023(), "alice", "k"), loaded_at=T0)
        # alice plays Solitary Daze three more times; bob's plays do not count for alice
        again = page_2023()
        again["items"] = again["items"][:1] * 3
        for n, item in enumerate(again["items"]):
            again["items"][n] = {**item, "played_at": f"2023-09-23T1{n}:00:00.000Z"}
        writes.save_recently_played(conn, recently_played_rows(again, "alice", "k2"), loaded_at=T0)
        writes.save_recently_played(
            conn, recently_played_rows(synthetic_page(T0, 5), "bob", "k3"), loaded_at=T0
        )
        writes.ensure_user(conn, "alice", T0)
        writes.save_plays(
            conn, [PlayRow("alice", T0, None, track_name="Unresolved", source="export")], loaded_at=T0
        )
    with engine.connect() as conn:
        c = reads.counts(conn, "alice")
        assert (c["plays"], c["plays_api"], c["plays_export"]) == (6, 5, 1)
        assert (c["tracks"], c["albums"], c["artists"], c["artists_fetched"]) == (7, 2, 4, 0)
        assert reads.counts(conn)["plays"] == 11
        assert reads.top_tracks(conn, "alice", 5) == [
            ("Solitary Daze", "Maceo Plex", 4),
            ("Cappadocia", "Ben Böhmer", 1),
        ]
        # credited to the primary artist only: Gabriel Ananda (position 1) gets none
        assert reads.top_artists(conn, "alice", 5) == [("Maceo Plex", 4), ("Ben Böhmer", 1)]
        assert reads.top_tracks(conn, "alice", 1) == [("Solitary Daze", "Maceo Plex", 4)]
        daze = "7vqcDtNvoJn5pXhktc8qe8"
        assert reads.play_keys(conn, "alice") == [
            (datetime(2023, 9, 22, 15, 23, 14, 294_000, tzinfo=UTC), "4rERaNiKlILD603GJvdEvm"),
            (datetime(2023, 9, 22, 15, 43, 33, 750_000, tzinfo=UTC), daze),
            (datetime(2023, 9, 23, 10, tzinfo=UTC), daze),
            (datetime(2023, 9, 23, 11, tzinfo=UTC), daze),
            (datetime(2023, 9, 23, 12, tzinfo=UTC), daze),
            (T0, None),
        ]
        assert reads.newest_play_at(conn, "alice", source="api") < reads.newest_play_at(conn, "alice")  # type: ignore[operator]


def test_sqlite_datetime_binding_stores_what_sqlalchemy_stores() -> None:
    """``bind_processor``'s one-step UtcDateTime text on SQLite is the text of SQLAlchemy's own chain
    (UtcDateTime truncating to the ms, then SQLite's DateTime format), byte for byte."""
    from sqlalchemy.dialects import sqlite

    from spotify_pipeline.warehouse.upsert import bind_processor

    dialect = sqlite.dialect()
    column_type = s.plays.c.played_at.type
    fast = bind_processor(column_type, dialect)
    general = column_type.dialect_impl(dialect).bind_processor(dialect)
    assert fast is not None and general is not None and fast is not general
    other = datetime(2024, 3, 1, 9, 15, 12, 999_999, tzinfo=UTC).astimezone(timezone(timedelta(hours=1)))
    values = [
        datetime(2024, 3, 1, 8, 15, 12, tzinfo=UTC),
        datetime(2024, 3, 1, 8, 15, 12, 123_456, tzinfo=UTC),
        datetime(2024, 3, 1, 8, 15, 12, 999, tzinfo=UTC),
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
        other,
        None,
    ]
    for value in values:
        assert fast(value) == general(value), value
    with pytest.raises(ValueError, match="timezone-aware"):
        fast(datetime(2024, 3, 1))  # a naive value is refused as before


def test_checked_columns_are_not_checked_again_but_the_others_are(engine: Engine) -> None:
    """``insert_ignore(checked=...)`` trusts the caller for those columns only."""
    from spotify_pipeline.warehouse.upsert import check_rows

    row = {"kind": "artist", "id": "a" * 300, "status": "404", "attempted_at": T0}
    check_rows(s.metadata_misses, [row], skip=frozenset({"id"}))
    with pytest.raises(RowRejected, match="metadata_misses.id holds at most"):
        check_rows(s.metadata_misses, [row], skip=frozenset({"kind"}))
    with pytest.raises(RowRejected, match="is required"):
        check_rows(s.metadata_misses, [{**row, "id": None}], skip=frozenset({"id"}))
