import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.exc import StatementError
from tests.conftest import load_fixture

from spotify_pipeline.transform import PlayRow, recently_played_rows
from spotify_pipeline.warehouse import reads, writes
from spotify_pipeline.warehouse import schema as s
from spotify_pipeline.warehouse.upsert import RowRejected

from .helpers import T0, count, distinct_plays, page_2023, synthetic_page

KEY = "recently_played/2023092215.json"


def test_load_a_real_page_then_the_same_page_again(engine: Engine) -> None:
    rows = recently_played_rows(page_2023(), "alice", KEY)
    with engine.begin() as conn:
        assert writes.save_recently_played(conn, rows, loaded_at=T0) == 2
    with engine.begin() as conn:
        assert writes.save_recently_played(conn, rows, loaded_at=T0 + timedelta(hours=1)) == 0
    with engine.connect() as conn:
        assert count(conn, s.plays) == distinct_plays(conn) == 2
        assert (count(conn, s.tracks), count(conn, s.albums), count(conn, s.artists)) == (2, 2, 4)
        assert count(conn, s.track_artists) == 4 and count(conn, s.album_artists) == 4
        assert count(conn, s.users) == 1
        play = conn.execute(select(s.plays).order_by(s.plays.c.played_at.desc())).first()
        assert play is not None
        # the stored play is the first load's: insert-only
        assert play.loaded_at == T0
        assert play.played_at == datetime(2023, 9, 22, 15, 43, 33, 750_000, tzinfo=UTC)
        assert (play.track_id, play.source, play.raw_key, play.context_type) == (
            "7vqcDtNvoJn5pXhktc8qe8",
            "api",
            KEY,
            None,
        )
        track = conn.execute(select(s.tracks).where(s.tracks.c.id == "7vqcDtNvoJn5pXhktc8qe8")).one()
        assert (track.isrc, track.album_id, track.popularity, track.explicit) == (
            "GB7M21425001",
            "462nMAgJr4l14IqVngpOXM",
            51,
            False,
        )
        credits = conn.execute(
            select(s.track_artists.c.position, s.track_artists.c.artist_id)
            .where(s.track_artists.c.track_id == "7vqcDtNvoJn5pXhktc8qe8")
            .order_by(s.track_artists.c.position)
        ).all()
        assert [tuple(c) for c in credits] == [(0, "3TXQ1ddouwQAI78hV4hXDj"), (1, "3YpEUCjdLuPmBspkmoPYnX")]


def test_overlapping_pages_change_no_counts(engine: Engine) -> None:
    first = recently_played_rows(synthetic_page(T0, 50), "alice", "a.json")
    # 30 minutes later: 10 new plays, 40 already seen
    second = recently_played_rows(synthetic_page(T0 + timedelta(minutes=30), 50), "alice", "b.json")
    with engine.begin() as conn:
        assert writes.save_recently_played(conn, first, loaded_at=T0) == 50
        assert writes.save_recently_played(conn, second, loaded_at=T0) == 10
        assert writes.save_recently_played(conn, first, loaded_at=T0) == 0
    with engine.connect() as conn:
        assert count(conn, s.plays) == distinct_plays(conn) == 60
        assert reads.newest_play_at(conn, "alice") == T0 + timedelta(minutes=30) + 49 * timedelta(minutes=3)
        assert reads.newest_play_at(conn, "nobody") is None


def test_milliseconds_survive_the_round_trip(engine: Engine) -> None:
    when = datetime(2023, 9, 22, 15, 43, 33, 750_000, tzinfo=UTC)
    plays = [
        PlayRow("alice", when, "7vqcDtNvoJn5pXhktc8qe8"),
        PlayRow("alice", when + timedelta(milliseconds=1), "7vqcDtNvoJn5pXhktc8qe8"),
        # a finer time is truncated to the ms on both engines (the same on SQLite as on MySQL)
        PlayRow("alice", when + timedelta(milliseconds=2, microseconds=999), "7vqcDtNvoJn5pXhktc8qe8"),
    ]
    with engine.begin() as conn:
        writes.ensure_user(conn, "alice", T0)
        assert writes.save_plays(conn, plays, loaded_at=T0) == 3
        # the same ms with other microseconds is the same play
        assert (
            writes.save_plays(conn, [PlayRow("alice", when + timedelta(microseconds=400), "x")], loaded_at=T0)
            == 0
        )
    with engine.connect() as conn:
        stored = list(conn.execute(select(s.plays.c.played_at).order_by(s.plays.c.played_at)).scalars())
    assert stored == [when, when + timedelta(milliseconds=1), when + timedelta(milliseconds=2)]
    assert all(t.tzinfo is UTC for t in stored)


def test_aware_times_in_other_zones_are_stored_as_utc_and_naive_ones_refused(engine: Engine) -> None:
    from datetime import timezone

    cest = timezone(timedelta(hours=2))
    with engine.begin() as conn:
        writes.ensure_user(conn, "alice", T0)
        writes.save_plays(
            conn, [PlayRow("alice", datetime(2026, 6, 1, 12, 0, tzinfo=cest), "x")], loaded_at=T0
        )
    with engine.connect() as conn:
        assert reads.newest_play_at(conn, "alice") == datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
    with pytest.raises(StatementError, match="not a timezone-aware datetime"), engine.begin() as conn:
        writes.save_plays(conn, [PlayRow("alice", datetime(2026, 6, 1, 12, 0), "x")], loaded_at=T0)


def test_utf8mb4_names_round_trip(engine: Engine) -> None:
    page = page_2023()
    track = page["items"][0]["track"]
    track["name"] = "夜に駆ける 🎧 Ñandú"
    track["artists"][0]["name"] = "YOASOBI 🌙"
    track["album"]["artists"][0]["name"] = "YOASOBI 🌙"
    rows = recently_played_rows(page, "ユーザー🎵", KEY)
    with engine.begin() as conn:
        writes.save_recently_played(conn, rows, loaded_at=T0)
    with engine.connect() as conn:
        assert (
            conn.execute(select(s.tracks.c.name).where(s.tracks.c.id == track["id"])).scalar()
            == "夜に駆ける 🎧 Ñandú"
        )
        assert (
            conn.execute(select(s.artists.c.name).where(s.artists.c.id == "3TXQ1ddouwQAI78hV4hXDj")).scalar()
            == "YOASOBI 🌙"
        )
        assert conn.execute(select(s.plays.c.user_id).distinct()).scalar() == "ユーザー🎵"


def test_ids_differing_only_in_case_are_different_rows(engine: Engine) -> None:
    page = load_fixture("api/artists_several.json")
    bowie = page["artists"][0]
    from spotify_pipeline.transform import artist_row

    lower = artist_row({**bowie, "id": "0osgxfwsnnoxhd2fkuz2gy", "name": "Someone else"})
    with engine.begin() as conn:
        writes.save_artists_full(conn, [artist_row(bowie), lower], fetched_at=T0)
        assert writes.save_plays(conn, [], loaded_at=T0) == 0
    with engine.connect() as conn:
        names = {r.id: r.name for r in conn.execute(select(s.artists.c.id, s.artists.c.name))}
    assert names == {"0oSGxfWSnnOXhD2fKuz2Gy": "David Bowie", "0osgxfwsnnoxhd2fkuz2gy": "Someone else"}


def test_a_row_that_does_not_fit_is_refused_not_truncated(engine: Engine) -> None:
    with engine.begin() as conn:
        writes.ensure_user(conn, "alice", T0)
    long_context = PlayRow("alice", T0, "x", context_type="a" * 33)
    with (
        pytest.raises(RowRejected, match="plays.context_type holds at most 32 characters"),
        engine.begin() as conn,
    ):
        writes.save_plays(conn, [long_context], loaded_at=T0)
    with pytest.raises(RowRejected, match="plays.source is required"), engine.begin() as conn:
        writes.save_plays(conn, [PlayRow("alice", T0, "x", source=None)], loaded_at=T0)  # type: ignore[arg-type]
    # MariaDB's INSERT IGNORE would clamp this to 2**63 - 1 and SQLite keep it: both refuse it
    huge = PlayRow("alice", T0, "x", source="export", ms_played=2**63)
    with pytest.raises(
        RowRejected, match=r"plays.ms_played holds whole numbers .*row 0 has 9223372036854775808"
    ):
        with engine.begin() as conn:
            writes.save_plays(conn, [huge], loaded_at=T0)
    # neither engine can store a lone surrogate as UTF-8: both refuse it the same way
    surrogate = PlayRow("alice", T0, "x", track_name="bad \ud800 name")
    with pytest.raises(RowRejected, match="plays.track_name of row 0 holds a lone surrogate at character 4"):
        with engine.begin() as conn:
            writes.save_plays(conn, [surrogate], loaded_at=T0)
    with engine.connect() as conn:
        assert count(conn, s.plays) == 0


def test_long_names_and_big_numbers_are_kept_exactly_on_every_engine(engine: Engine) -> None:
    """Names are long text (no limit from Spotify) and ms_played a BIGINT: MariaDB used to clamp
    3,000,000,000 to 2,147,483,647 while SQLite kept it; a 2000-character name stopped a load."""
    with engine.begin() as conn:
        writes.ensure_user(conn, "alice", T0)
        play = PlayRow("alice", T0, None, source="export", ms_played=3_000_000_000, track_name="Ü" * 20_000)
        assert writes.save_plays(conn, [play], loaded_at=T0) == 1
    with engine.connect() as conn:
        row = conn.execute(select(s.plays.c.ms_played, s.plays.c.track_name)).one()
    assert tuple(row) == (3_000_000_000, "Ü" * 20_000)


def test_export_plays_with_every_kept_column(engine: Engine) -> None:
    play = PlayRow(
        user_id="alice",
        played_at=datetime(2026, 3, 1, 8, 15, 2, tzinfo=UTC),
        track_id=None,
        track_name="Solitary Daze",
        artist_name="Maceo Plex",
        album_name="Solitary Daze",
        source="export",
        ms_played=463000,
        reason_start="trackdone",
        reason_end="endplay",
        shuffle=False,
        skipped=None,
        offline=True,
        incognito=False,
        platform="android",
        country="SE",
        import_id=7,
    )
    with engine.begin() as conn:
        writes.ensure_user(conn, "alice", T0)
        assert writes.save_plays(conn, [play], loaded_at=T0) == 1
    with engine.connect() as conn:
        row = conn.execute(select(s.plays)).one()._asdict()
    assert row == {**play.as_dict(), "loaded_at": T0}
    assert not {"ip_addr", "ip_addr_decrypted", "user_agent_decrypted"} & set(row)


def test_a_year_of_plays_loads_in_chunks(engine: Engine) -> None:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    plays = [PlayRow("heavy", start + timedelta(minutes=17 * k), f"t{k % 900:021d}") for k in range(30_000)]
    with engine.begin() as conn:
        writes.ensure_user(conn, "heavy", T0)
        began = time.perf_counter()
        assert writes.save_plays(conn, plays, loaded_at=T0) == 30_000
        assert writes.save_plays(conn, plays[::7], loaded_at=T0) == 0
        elapsed = time.perf_counter() - began
    with engine.connect() as conn:
        assert count(conn, s.plays) == distinct_plays(conn) == 30_000
    print(f"{engine.dialect.name}: 30k plays + 4.3k duplicates in {elapsed:.2f}s")
