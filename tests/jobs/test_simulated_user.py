"""A simulated listener polled by the real jobs with forced gaps, then both export packages imported:
every true play is in the warehouse exactly once, the gaps the export covers are closed and `status`
shows the others; and the ts - played_at offsets are measured against the truth."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.engine import Engine
from tests.jobs.harness import START as JOBS_START
from tests.jobs.harness import World, make_world

from spotify_pipeline.clock import ManualClock, to_ms
from spotify_pipeline.jobs import download_recently_played, process
from spotify_pipeline.jobs.import_history import import_history
from spotify_pipeline.jobs.status import status
from spotify_pipeline.settings import Settings
from spotify_pipeline.simulator import Simulator, SimulatorConfig
from spotify_pipeline.warehouse import reads, writes
from spotify_pipeline.warehouse import schema as s

from .import_checks import assert_adds_up

START = datetime(2026, 6, 1, tzinfo=UTC)
POLL_DAYS = 6
EXPORT_DAYS = 4


def _poll_with_forced_gaps(world: World) -> None:
    """The real jobs at a 2-hour interval, with a night of polls skipped and an 8-hour 429 penalty:
    a binge listener then plays more than 50 songs between some polls, and the fetch records gaps."""
    penalty_at = JOBS_START + timedelta(days=3, hours=10)
    for n, t in enumerate(world.poll_times(POLL_DAYS, 120), start=1):
        if JOBS_START + timedelta(days=1, hours=20) <= t < JOBS_START + timedelta(days=2, hours=8):
            continue  # the laptop was asleep: no poll at all
        if t == penalty_at:
            world.sim.faults.add(
                path_prefix="/v1/me/player/recently-played", kind="penalty", retry_after=8 * 3600, count=1
            )
        runtime = world.fresh_runtime()
        download_recently_played(world.settings, runtime=runtime)
        if n % 6 == 0:
            process(world.settings, runtime=runtime)
    process(world.settings, runtime=world.fresh_runtime())


def _covered(gap: dict[str, datetime], first: datetime, last: datetime) -> bool:
    return first <= gap["gap_from"] and gap["gap_to"] <= last


def test_polled_by_the_jobs_with_gaps_then_both_exports_every_play_once(
    warehouse_url: str, tmp_path: Path
) -> None:
    world = make_world(tmp_path, profile="binge", warehouse_url=warehouse_url, seed=3)
    _poll_with_forced_gaps(world)
    user, sim = world.settings.user, world.sim
    engine = world.runtime.engine
    with engine.connect() as conn:
        gaps_before = reads.open_gaps(conn, user)
    # The export covers the first EXPORT_DAYS only: gaps after it must stay open.
    export_end = JOBS_START + timedelta(days=EXPORT_DAYS)
    export = tmp_path / "export"
    sim.write_export(user, export / "extended", kind="extended", start=JOBS_START, end=export_end)
    sim.write_export(user, export / "account", kind="account", start=JOBS_START, end=export_end)

    report = import_history(world.settings, export, engine=engine)
    assert_adds_up(report)
    assert report.status == "ok"

    # Expected from the truth alone. In the export's span: every music play of 30 s or more outside a
    # private session (the extended and account records of shorter, private or non-music plays are
    # counted, not kept), exactly once. After it: the plays the polling caught, exactly once.
    in_export = sim.api_visible_truth(user, JOBS_START, export_end)
    everything = sim.truth(user, JOBS_START, export_end)
    with engine.connect() as conn:
        stored = reads.play_keys(conn, user)
    assert len(stored) == len({to_ms(at) for at, _ in stored})  # one row per instant
    inside = [(at, track) for at, track in stored if at < export_end + timedelta(seconds=1)]
    assert len(inside) == len(in_export)
    left = list(inside)
    for play in in_export:
        near = [k for k in left if k[1] == play.track_id and abs((k[0] - play.ended_at).total_seconds()) < 1]
        assert len(near) == 1, (play, near)
        left.remove(near[0])
    reachable = {
        (to_ms(p.ended_at), p.track_id) for p in sim.reachable_truth(user, export_end, world.clock.now())
    }
    after = Counter((to_ms(at), track) for at, track in stored if at >= export_end + timedelta(seconds=1))
    assert after and set(after) <= reachable and max(after.values()) == 1
    # Records read: one extended and one account record per true play (account data has no private flag).
    assert report.records_read == 2 * len(everything)
    assert report.imported + report.duplicates_of_api == len(in_export)
    # Offsets measured against the truth: ts is the true end truncated to the second.
    offsets = report.offset_summary()
    assert offsets["matches"] == report.duplicates_of_api > 0
    assert -1 <= offsets["min"] and offsets["max"] <= 0  # type: ignore[operator]

    # Gaps: closed exactly when the export's records span them (to the end of the last minute).
    first = min(p.ended_at for p in everything).replace(second=0, microsecond=0)
    last = max(p.ended_at for p in everything).replace(microsecond=0) + timedelta(minutes=1)
    still_open = [g for g in gaps_before if not _covered(g, first, last)]
    closed = [g for g in gaps_before if _covered(g, first, last)]
    assert closed and still_open, "the scenario must close some gaps and leave others open"
    assert len(report.gaps_closed) == len(closed) and report.gaps_open == len(still_open)
    shown = status(world.settings, runtime=world.fresh_runtime())
    assert shown["open_gaps"] == [
        {
            "from": g["gap_from"].isoformat(),
            "to": g["gap_to"].isoformat(),
            "detected_at": g["detected_at"].isoformat(),
        }
        for g in still_open
    ]
    again = import_history(world.settings, export, engine=engine)
    assert_adds_up(again)
    assert again.imported_new == 0 and again.imported == report.imported
    with engine.connect() as conn:
        assert len(reads.play_keys(conn, user)) == len(stored)


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
        writes.ensure_user(conn, "alice", end)
        conn.execute(s.plays.insert(), [
            {"user_id": "alice", "played_at": p.ended_at, "track_id": p.track_id, "source": "api", "loaded_at": end}
            for p in plays
        ])  # fmt: skip
    return len(plays)
