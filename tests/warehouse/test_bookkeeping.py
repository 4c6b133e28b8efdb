"""Manifest, gaps, fetch and import runs."""

import json
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select

from spotify_pipeline.warehouse import reads, writes
from spotify_pipeline.warehouse import schema as s

from .helpers import T0

H = timedelta(hours=1)


def test_manifest_records_loaded_and_quarantined_objects(engine: Engine) -> None:
    key = "recently_played/2026112910.json"
    long_key = "users/" + "ü" * 600 + "/recently_played/2026112910.json"  # longer than any index allows
    with engine.begin() as conn:
        assert writes.manifest_entry(conn, key) is None
        writes.mark_loaded(conn, key, "recently_played", "alice", '"etag1"', 5120, 48, T0)
        writes.mark_quarantined(
            conn, long_key, "recently_played", "alice", None, "no 'items' list", loaded_at=T0
        )
    with engine.connect() as conn:
        entry = writes.manifest_entry(conn, key)
        assert entry is not None
        assert {
            k: entry[k]
            for k in ("key", "kind", "user_id", "etag", "size", "status", "rows_inserted", "loaded_at")
        } == {
            "key": key,
            "kind": "recently_played",
            "user_id": "alice",
            "etag": '"etag1"',
            "size": 5120,
            "status": "loaded",
            "rows_inserted": 48,
            "loaded_at": T0,
        }
        bad = writes.manifest_entry(conn, long_key)
        assert bad is not None and (bad["key"], bad["status"], bad["reason"]) == (
            long_key,
            "quarantined",
            "no 'items' list",
        )
        assert set(writes.manifest_entries(conn, "recently_played")) == {key, long_key}
        assert writes.manifest_entries(conn, "following_artists") == {}
        c = reads.counts(conn)
        assert (c["landed_files"], c["quarantined_files"]) == (1, 1)
    # the hour's object grew (a second fetch merged into it) and the fixed file loads: one row each
    with engine.begin() as conn:
        writes.mark_loaded(conn, key, "recently_played", "alice", '"etag2"', 6000, 3, T0 + H)
        writes.mark_loaded(conn, long_key, "recently_played", "alice", '"e"', 10, 1, T0 + H)
    with engine.connect() as conn:
        assert len(writes.manifest_entries(conn)) == 2
        entry = writes.manifest_entry(conn, key)
        assert entry is not None and (entry["etag"], entry["rows_inserted"], entry["loaded_at"]) == (
            '"etag2"',
            3,
            T0 + H,
        )
        fixed = writes.manifest_entry(conn, long_key)
        assert fixed is not None and (fixed["status"], fixed["reason"]) == ("loaded", None)


def test_gaps_are_recorded_once_and_closed_when_covered(engine: Engine) -> None:
    with engine.begin() as conn:
        assert writes.record_gap(conn, "alice", T0, T0 + 2 * H, T0 + 3 * H, "recently_played/2026112913.json")
        assert not writes.record_gap(conn, "alice", T0, T0 + 2 * H, T0 + 5 * H, "again.json")  # a re-run
        assert writes.record_gap(conn, "alice", T0 + 10 * H, T0 + 12 * H, T0 + 13 * H)
        assert writes.record_gap(conn, "bob", T0, T0 + 2 * H, T0 + 3 * H)
    with engine.connect() as conn:
        gaps = writes.open_gaps(conn, "alice")
        assert [(g["gap_from"], g["gap_to"], g["raw_key"]) for g in gaps] == [
            (T0, T0 + 2 * H, "recently_played/2026112913.json"),
            (T0 + 10 * H, T0 + 12 * H, None),
        ]
        assert len(writes.open_gaps(conn)) == 3
        assert [g["gap_from"] for g in reads.gaps(conn, "alice")] == [T0, T0 + 10 * H]
    with engine.begin() as conn:
        # an export covering the first gap and half of the second closes only the first
        assert writes.close_gaps_covered(conn, "alice", T0 - H, T0 + 11 * H, "import 1", T0 + 20 * H) == 1
    with engine.connect() as conn:
        assert [g["gap_from"] for g in writes.open_gaps(conn, "alice")] == [T0 + 10 * H]
        closed = conn.execute(select(s.gaps).where(s.gaps.c.closed_at.is_not(None))).one()
        assert (closed.user_id, closed.closed_by, closed.closed_at) == ("alice", "import 1", T0 + 20 * H)
        assert reads.counts(conn, "alice")["open_gaps"] == 1
        assert [g["closed_by"] for g in reads.gaps(conn, "alice")] == ["import 1", None]  # closed ones too
        assert reads.counts(conn)["open_gaps"] == 2
    with pytest.raises(ValueError, match="is not before"), engine.begin() as conn:
        writes.record_gap(conn, "alice", T0, T0, T0)


def test_fetch_runs_and_last_fetch(engine: Engine) -> None:
    with engine.begin() as conn:
        writes.ensure_user(conn, "alice", T0)
        first = writes.start_fetch_run(conn, "alice", "recently_played", T0)
        writes.finish_fetch_run(
            conn, first, T0 + timedelta(seconds=2), "ok", 1, 50, "recently_played/2026112910.json", None
        )
        second = writes.start_fetch_run(conn, "alice", "recently_played", T0 + 2 * H)
        writes.start_fetch_run(conn, "alice", "following_artists", T0 + 3 * H)
    assert second != first
    with engine.connect() as conn:
        last = reads.last_fetch(conn, "alice", "recently_played")
        assert last is not None and (last["id"], last["status"], last["finished_at"]) == (
            second,
            "running",
            None,
        )
        assert reads.last_fetch(conn, "bob", "recently_played") is None
    with engine.begin() as conn:
        writes.finish_fetch_run(conn, second, T0 + 2 * H, "paused", 1, 0, None, "429: paused until 18:00")
    with engine.connect() as conn:
        last = reads.last_fetch(conn, "alice", "recently_played")
        assert last is not None and (last["status"], last["api_calls"], last["message"]) == (
            "paused",
            1,
            "429: paused until 18:00",
        )
        done = conn.execute(select(s.fetch_runs).where(s.fetch_runs.c.id == first)).one()
        assert (done.items, done.raw_key, done.finished_at) == (
            50,
            "recently_played/2026112910.json",
            T0 + timedelta(seconds=2),
        )


def test_import_runs_keep_their_report(engine: Engine) -> None:
    report = {"records_read": 10, "imported": 7, "duplicates_of_api": 3}
    with engine.begin() as conn:
        run = writes.start_import_run(conn, "alice", "/exports/my_spotify_data.zip", T0)
        writes.finish_import_run(conn, run, T0 + H, "ok", report)
    with engine.connect() as conn:
        row = conn.execute(select(s.import_runs)).one()
    assert (row.user_id, row.status, row.finished_at, json.loads(row.report)) == (
        "alice",
        "ok",
        T0 + H,
        report,
    )


def test_ensure_user_is_idempotent(engine: Engine) -> None:
    with engine.begin() as conn:
        assert writes.ensure_user(conn, "alice", T0)
        assert not writes.ensure_user(conn, "alice", T0 + H)
        assert conn.execute(select(s.users.c.created_at)).scalar_one() == T0
