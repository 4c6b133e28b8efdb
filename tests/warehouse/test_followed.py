from datetime import timedelta

from sqlalchemy import Engine, select

from spotify_pipeline.warehouse import reads, writes
from spotify_pipeline.warehouse import schema as s

from .helpers import T0

DAY = timedelta(days=1)


def _history(engine: Engine) -> list[tuple[object, ...]]:
    fa = s.followed_artists
    with engine.connect() as conn:
        rows = conn.execute(
            select(fa.c.artist_id, fa.c.first_seen, fa.c.last_seen, fa.c.unfollowed_at)
            .where(fa.c.user_id == "alice")
            .order_by(fa.c.artist_id, fa.c.first_seen)
        ).all()
    return [tuple(r) for r in rows]


def test_follow_unfollow_refollow(engine: Engine) -> None:
    snapshots = [
        (T0, {"A", "B"}, (2, 0)),
        (T0 + DAY, {"A", "B", "C"}, (1, 0)),
        (T0 + 2 * DAY, {"A", "C"}, (0, 1)),  # B unfollowed
        (T0 + 3 * DAY, {"A", "B", "C"}, (1, 0)),  # B followed again: a new period
        (T0 + 4 * DAY, set(), (0, 3)),  # everything unfollowed
    ]
    for seen_at, ids, expected in snapshots:
        with engine.begin() as conn:
            assert writes.fold_followed_snapshot(conn, "alice", ids, seen_at) == expected
    assert _history(engine) == [
        ("A", T0, T0 + 3 * DAY, T0 + 4 * DAY),
        ("B", T0, T0 + DAY, T0 + 2 * DAY),
        ("B", T0 + 3 * DAY, T0 + 3 * DAY, T0 + 4 * DAY),
        ("C", T0 + DAY, T0 + 3 * DAY, T0 + 4 * DAY),
    ]
    with engine.connect() as conn:
        assert reads.counts(conn, "alice")["followed_artists"] == 0
        assert writes.newest_followed_fold(conn, "alice") == T0 + 4 * DAY


def test_a_snapshot_folded_twice_or_out_of_order_changes_nothing(engine: Engine) -> None:
    with engine.begin() as conn:
        writes.fold_followed_snapshot(conn, "alice", {"A", "B"}, T0)
        writes.fold_followed_snapshot(conn, "alice", {"A"}, T0 + 2 * DAY)
    before = _history(engine)
    with engine.begin() as conn:
        assert writes.fold_followed_snapshot(conn, "alice", {"A"}, T0 + 2 * DAY) == (0, 0)  # the same again
        # an older snapshot processed late (catch-up): it would reopen B; history only moves forward
        assert writes.fold_followed_snapshot(conn, "alice", {"A", "B"}, T0 + DAY) == (0, 0)
    assert _history(engine) == before == [("A", T0, T0 + 2 * DAY, None), ("B", T0, T0, T0 + 2 * DAY)]
    with engine.connect() as conn:
        assert reads.counts(conn, "alice")["followed_artists"] == 1


def test_users_have_separate_histories(engine: Engine) -> None:
    with engine.begin() as conn:
        writes.fold_followed_snapshot(conn, "alice", {"A"}, T0)
        assert writes.fold_followed_snapshot(conn, "bob", {"A", "B"}, T0 - DAY) == (2, 0)
        assert writes.fold_followed_snapshot(conn, "bob", {"B"}, T0 + DAY) == (0, 1)
    assert _history(engine) == [("A", T0, T0, None)]


def test_many_artists_fold_in_chunks(engine: Engine) -> None:
    ids = {f"{n:022d}" for n in range(1200)}
    with engine.begin() as conn:
        assert writes.fold_followed_snapshot(conn, "alice", ids, T0) == (1200, 0)
        kept = set(sorted(ids)[:700])
        assert writes.fold_followed_snapshot(conn, "alice", kept, T0 + DAY) == (0, 500)
    with engine.connect() as conn:
        assert reads.counts(conn, "alice")["followed_artists"] == 700
