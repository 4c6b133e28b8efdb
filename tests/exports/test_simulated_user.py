"""A simulated listener polled with forced gaps, then both export packages imported: every true play
is in the warehouse exactly once, and the ts - played_at offsets are measured against the truth."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import Engine

from spotify_pipeline.clock import ManualClock
from spotify_pipeline.jobs.import_history import import_history
from spotify_pipeline.settings import Settings
from spotify_pipeline.simulator import Simulator, SimulatorConfig
from spotify_pipeline.warehouse import schema as s
from spotify_pipeline.warehouse import writes

from .conftest import assert_adds_up

START = datetime(2026, 6, 1, tzinfo=UTC)
DAYS = 6
# Polling "missed" these windows (a laptop asleep, a 429 pause): the API never delivered their plays.
MISSED = [(START + timedelta(days=1, hours=6), START + timedelta(days=1, hours=20)),
          (START + timedelta(days=4), START + timedelta(days=5))]  # fmt: skip


def _poll_with_gaps(sim: Simulator, engine: Engine) -> int:
    """Insert the API-visible truth as API plays, except the missed windows, which become gaps."""
    end = START + timedelta(days=DAYS)
    rows = []
    for play in sim.api_visible_truth("alice", START, end):
        if any(lo <= play.ended_at < hi for lo, hi in MISSED):
            continue
        track = sim.catalog.tracks[play.track_id]
        rows.append({
            "user_id": "alice", "played_at": play.ended_at, "track_id": play.track_id, "track_name": track.name,
            "artist_name": sim.catalog.artists[track.artist_ids[0]].name, "source": "api",
            "loaded_at": end, "raw_key": "recently_played/sim.json",
        })  # fmt: skip
    with engine.begin() as conn:
        writes.ensure_user(conn, "alice")
        conn.execute(s.plays.insert(), rows)
        for lo, hi in MISSED:
            writes.record_gap(conn, "alice", lo, hi, end)
    return len(rows)


def test_polled_with_gaps_then_both_exports_every_play_once(
    settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    sim = Simulator(SimulatorConfig(seed=11), clock=ManualClock(START + timedelta(days=DAYS)))
    sim.add_user("alice", profile="typical", since=START - timedelta(days=30))
    end = START + timedelta(days=DAYS)
    api_rows = _poll_with_gaps(sim, engine)
    export = tmp_path / "export"
    sim.write_export("alice", export / "extended", kind="extended", start=START, end=end)
    sim.write_export("alice", export / "account", kind="account", start=START, end=end)
    truth = sim.truth("alice", START, end)
    kept = [p for p in truth if p.kind == "music" and not p.private_session and p.ms_played >= 30_000]

    report = import_history(settings, export, engine=engine)
    assert_adds_up(report)
    assert report.status == "ok"
    # Every extended record of an API play matched it; every account record is a copy or a match.
    assert report.duplicates_of_api == api_rows
    assert report.imported == len(kept) - api_rows
    assert len(report.gaps_closed) == 2 and report.gaps_open == 0
    # Offsets measured against the truth: ts is played_at truncated to the second.
    offsets = report.offset_summary()
    assert offsets["matches"] == api_rows and -1 <= offsets["min"] and offsets["max"] <= 0

    with engine.connect() as conn:
        rows = conn.execute(select(s.plays.c.played_at, s.plays.c.track_id, s.plays.c.source)).all()
    assert len(rows) == len(kept)
    by_track: dict[str | None, list[datetime]] = {}
    for played_at, track_id, _source in rows:
        by_track.setdefault(track_id, []).append(played_at)
    for play in kept:  # each true play has its own row, same track, within a second
        candidates = by_track.get(play.track_id, [])
        near = [t for t in candidates if abs((t - play.ended_at).total_seconds()) < 1]
        assert len(near) == 1, (play, near)
        candidates.remove(near[0])

    again = import_history(settings, export, engine=engine)
    assert_adds_up(again)
    assert again.imported_new == 0 and again.imported == report.imported


def test_a_tight_tolerance_is_measured_not_assumed(
    settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    """With the tolerance at 0 s, plays whose ts was truncated no longer match: they would double.
    This is why the default stays wide (90 s) while the measured offsets are within 1 s."""
    sim = Simulator(SimulatorConfig(seed=5), clock=ManualClock(START + timedelta(days=2)))
    sim.add_user("alice", profile="light", since=START - timedelta(days=30))
    end = START + timedelta(days=2)
    api_rows = _poll_with_gaps_simple(sim, engine, end)
    sim.write_export("alice", tmp_path / "x", kind="extended", start=START, end=end)
    tight = settings.model_copy(update={"export_match_tolerance_seconds": 0.0})
    report = import_history(tight, tmp_path / "x", engine=engine)
    assert_adds_up(report)
    assert report.duplicates_of_api < api_rows


def _poll_with_gaps_simple(sim: Simulator, engine: Engine, end: datetime) -> int:
    plays = [p for p in sim.api_visible_truth("alice", START, end)]
    with engine.begin() as conn:
        writes.ensure_user(conn, "alice")
        conn.execute(s.plays.insert(), [
            {"user_id": "alice", "played_at": p.ended_at, "track_id": p.track_id, "source": "api", "loaded_at": end}
            for p in plays
        ])  # fmt: skip
    return len(plays)
