"""The jobs that write plays keep the rollups exact: after `process`, `import-history` (matching API
plays, upgrading account rows, removing private-session rows) and `rebuild`, every rollup row equals
a recomputation from the plays, and the statistics read from them equal those read from the plays."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from spotify_pipeline.insights.period import resolve_period
from spotify_pipeline.insights.stats import Insights
from spotify_pipeline.jobs import download_recently_played, process
from spotify_pipeline.jobs.import_history import import_history
from spotify_pipeline.jobs.rebuild import rebuild
from spotify_pipeline.warehouse import rollups

from .harness import START, World, make_world


def _snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    with engine.connect() as conn:
        return {t.name: sorted(tuple(r) for r in conn.execute(sa.select(t))) for t in rollups.ROLLUP_TABLES}


def assert_exact(engine: Engine, user: str = "alice") -> None:
    kept = _snapshot(engine)
    assert kept["play_hours"], "no rollup rows: nothing was checked"
    with engine.connect() as conn:
        trans = conn.begin()
        rollups.refresh_all(conn)
        recomputed = {
            t.name: sorted(tuple(r) for r in conn.execute(sa.select(t))) for t in rollups.ROLLUP_TABLES
        }
        trans.rollback()
    for name in kept:
        assert kept[name] == recomputed[name], name
    for zone in ("Europe/Berlin", "Asia/Kolkata"):
        for name in ("all", "month"):
            period = resolve_period(name, timezone=zone, now=START + timedelta(days=5))
            fast = Insights(engine, user, period, now=START + timedelta(days=5)).summary(5).as_dict()
            slow = (
                Insights(engine, user, period, now=START + timedelta(days=5), rollups=False)
                .summary(5)
                .as_dict()
            )
            assert fast == slow, (zone, name)


def _poll(world: World, hours: int) -> None:
    for _ in range(hours):
        world.clock.advance(timedelta(hours=1))
        download_recently_played(world.settings, runtime=world.fresh_runtime())


def test_process_keeps_the_rollups_exact(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    world.clock.advance(timedelta(hours=8))
    _poll(world, 4)
    assert process(world.settings, runtime=world.fresh_runtime()).counts["plays_inserted"] > 0
    assert_exact(world.runtime.engine)
    _poll(world, 6)  # the next runs: only their new plays are refreshed
    assert process(world.settings, runtime=world.fresh_runtime()).counts["plays_inserted"] > 0
    assert_exact(world.runtime.engine)


def test_imports_and_rebuild_keep_the_rollups_exact(tmp_path: Path) -> None:
    """API plays, then the account package (minute rows, matched to API plays), then the extended
    one (upgrades those rows, removes the private-session ones): exact after each; a rebuild
    gives the same rollups."""
    world = make_world(tmp_path, profile="binge")
    start, end = START + timedelta(days=2), START + timedelta(days=3)  # a day with private sessions
    world.clock.set(start + timedelta(hours=6))
    for _ in range(12):
        world.clock.advance(timedelta(hours=1))
        download_recently_played(world.settings, runtime=world.fresh_runtime())
    process(world.settings, runtime=world.fresh_runtime())
    world.clock.set(end + timedelta(hours=1))
    export = tmp_path / "export"
    removed = 0
    for kind in ("account", "extended"):
        world.sim.write_export("alice", export / kind, kind=kind, start=start, end=end)
        report = import_history(world.settings, export / kind, clock=world.clock, engine=world.runtime.engine)
        assert report.status == "ok", kind
        removed += report.private_rows_removed
        assert_exact(world.runtime.engine)
    assert removed > 0  # the deletions were exercised
    shutil.rmtree(export)
    original = _snapshot(world.runtime.engine)
    target = f"sqlite:///{tmp_path / 'rebuilt.db'}"
    assert rebuild(world.settings, runtime=world.fresh_runtime(), target_url=target).status == "ok"
    again = sa.create_engine(target)
    assert _snapshot(again) == original
    again.dispose()


def test_a_run_stopped_before_its_refresh_is_caught_up_by_the_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = make_world(tmp_path)
    world.clock.advance(timedelta(hours=8))
    _poll(world, 2)
    process(world.settings, runtime=world.fresh_runtime())
    with monkeypatch.context() as m:  # as if the run stopped after its objects committed
        m.setattr(rollups, "after_process", lambda *a, **k: None)
        while not _insert(world):
            pass
    assert not assert_exact_or_false(world.runtime.engine)  # those plays are not rolled up yet
    before = _snapshot(world.runtime.engine)
    while not _insert(world):  # the next run that inserts a play refreshes both runs' plays
        pass
    assert _snapshot(world.runtime.engine) != before
    assert_exact(world.runtime.engine)


def _insert(world: World) -> int:
    _poll(world, 1)
    return int(process(world.settings, runtime=world.fresh_runtime()).counts.get("plays_inserted", 0))


def assert_exact_or_false(engine: Engine) -> bool:
    try:
        assert_exact(engine)
    except AssertionError:
        return False
    return True
