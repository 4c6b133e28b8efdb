"""Manifest, gaps, fetch and import runs."""

import json
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select

from spotify_pipeline.warehouse import gaps, manifest, reads, runs, writes
from spotify_pipeline.warehouse import schema as s

from .helpers import T0

H = timedelta(hours=1)


def test_manifest_records_loaded_and_quarantined_objects(engine: Engine) -> None:
    key = "recently_played/2026112910.json"
    long_key = "users/" + "ü" * 600 + "/recently_played/2026112910.json"  # longer than any index allows
    with engine.begin() as conn:
        assert manifest.manifest_entry(conn, key) is None
        manifest.mark_loaded(
            conn,
            key,
            kind="recently_played",
            user_id="alice",
            etag='"etag1"',
            size=5120,
            rows=48,
            loaded_at=T0,
        )
        manifest.mark_quarantined(
            conn,
            long_key,
            kind="recently_played",
            user_id="alice",
            etag=None,
            reason="no 'items' list",
            loaded_at=T0,
        )
    with engine.connect() as conn:
        entry = manifest.manifest_entry(conn, key)
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
        bad = manifest.manifest_entry(conn, long_key)
        assert bad is not None and (bad["key"], bad["status"], bad["reason"]) == (
            long_key,
            "quarantined",
            "no 'items' list",
        )
        assert set(manifest.manifest_entries(conn, "recently_played")) == {key, long_key}
        assert manifest.manifest_entries(conn, "following_artists") == {}
        c = reads.counts(conn)
        assert (c["landed_files"], c["quarantined_files"]) == (1, 1)
    # the hour's object grew (a second fetch merged into it) and the fixed file loads: one row each
    with engine.begin() as conn:
        manifest.mark_loaded(
            conn,
            key,
            kind="recently_played",
            user_id="alice",
            etag='"etag2"',
            size=6000,
            rows=3,
            loaded_at=T0 + H,
        )
        manifest.mark_loaded(
            conn,
            long_key,
            kind="recently_played",
            user_id="alice",
            etag='"e"',
            size=10,
            rows=1,
            loaded_at=T0 + H,
        )
    with engine.connect() as conn:
        assert len(manifest.manifest_entries(conn)) == 2
        entry = manifest.manifest_entry(conn, key)
        assert entry is not None and (entry["etag"], entry["rows_inserted"], entry["loaded_at"]) == (
            '"etag2"',
            3,
            T0 + H,
        )
        fixed = manifest.manifest_entry(conn, long_key)
        assert fixed is not None and (fixed["status"], fixed["reason"]) == ("loaded", None)


def test_gaps_are_recorded_once_and_closed_when_covered(engine: Engine) -> None:
    with engine.begin() as conn:
        assert gaps.record_gap(
            conn,
            "alice",
            gap_from=T0,
            gap_to=T0 + 2 * H,
            detected_at=T0 + 3 * H,
            raw_key="recently_played/2026112913.json",
        )
        assert not gaps.record_gap(
            conn, "alice", gap_from=T0, gap_to=T0 + 2 * H, detected_at=T0 + 5 * H, raw_key="again.json"
        )  # a re-run
        assert gaps.record_gap(
            conn, "alice", gap_from=T0 + 10 * H, gap_to=T0 + 12 * H, detected_at=T0 + 13 * H
        )
        assert gaps.record_gap(conn, "bob", gap_from=T0, gap_to=T0 + 2 * H, detected_at=T0 + 3 * H)
    with engine.connect() as conn:
        still_open = reads.open_gaps(conn, "alice")
        assert [(g["gap_from"], g["gap_to"], g["raw_key"]) for g in still_open] == [
            (T0, T0 + 2 * H, "recently_played/2026112913.json"),
            (T0 + 10 * H, T0 + 12 * H, None),
        ]
        assert len(reads.open_gaps(conn)) == 3
        assert [g["gap_from"] for g in reads.gaps(conn, "alice")] == [T0, T0 + 10 * H]
    with engine.begin() as conn:
        # an export covering the first gap and half of the second closes only the first
        assert (
            gaps.close_gaps_covered(
                conn, "alice", start=T0 - H, end=T0 + 11 * H, closed_by="import 1", closed_at=T0 + 20 * H
            )
            == 1
        )
    with engine.connect() as conn:
        assert [g["gap_from"] for g in reads.open_gaps(conn, "alice")] == [T0 + 10 * H]
        closed = conn.execute(select(s.gaps).where(s.gaps.c.closed_at.is_not(None))).one()
        assert (closed.user_id, closed.closed_by, closed.closed_at) == ("alice", "import 1", T0 + 20 * H)
        assert reads.counts(conn, "alice")["open_gaps"] == 1
        assert [g["closed_by"] for g in reads.gaps(conn, "alice")] == ["import 1", None]  # closed ones too
        assert reads.counts(conn)["open_gaps"] == 2
    with pytest.raises(ValueError, match="is not before"), engine.begin() as conn:
        gaps.record_gap(conn, "alice", gap_from=T0, gap_to=T0, detected_at=T0)


def test_fetch_runs_and_last_fetch(engine: Engine) -> None:
    with engine.begin() as conn:
        writes.ensure_user(conn, "alice", T0)
        first = runs.start_fetch_run(conn, "alice", "recently_played", started_at=T0)
        runs.finish_fetch_run(
            conn,
            first,
            finished_at=T0 + timedelta(seconds=2),
            status="ok",
            api_calls=1,
            items=50,
            raw_key="recently_played/2026112910.json",
        )
        second = runs.start_fetch_run(conn, "alice", "recently_played", started_at=T0 + 2 * H)
        runs.start_fetch_run(conn, "alice", "following_artists", started_at=T0 + 3 * H)
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
        runs.finish_fetch_run(
            conn,
            second,
            finished_at=T0 + 2 * H,
            status="paused",
            api_calls=1,
            items=0,
            message="429: paused until 18:00",
        )
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
        run = runs.start_import_run(conn, "alice", source="/exports/my_spotify_data.zip", started_at=T0)
        runs.finish_import_run(conn, run, finished_at=T0 + H, status="ok", report=report)
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
