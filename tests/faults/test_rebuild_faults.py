"""`rebuild` under faults: a raw object process quarantines, Ctrl-C mid-rebuild, the warehouse
deleted. The warehouse is never half-built, and every play comes back from the raw zone alone
(SIGKILL mid-rebuild and MariaDB + S3: tests/jobs/test_rebuild_safety.py). Three checks at the end."""

from __future__ import annotations

import importlib
import json
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from tests.jobs.harness import START, World, make_world

from spotify_pipeline.errors import PipelineError
from spotify_pipeline.jobs.import_history import import_history
from spotify_pipeline.jobs.rebuild import rebuild
from spotify_pipeline.landing.decode import stored_json
from spotify_pipeline.warehouse import schema

from .checks import assert_three_checks, cron, shown


def _world_with_an_import(tmp_path: Path) -> tuple[World, list[str], int]:
    """Polled every 30 min for 8 h, then the export of those hours imported and deleted. Returns
    the world, what the user saw, and how many plays the import enriched."""
    world = make_world(tmp_path)
    told: list[str] = []
    for _ in range(16):
        world.clock.advance(timedelta(minutes=30))
        told += cron(world)
    export = tmp_path / "export"
    world.sim.write_export("alice", export, kind="extended", start=START, end=world.clock.now())
    report = import_history(world.settings, export, clock=world.clock, engine=world.runtime.engine)
    shutil.rmtree(export)
    assert report.status == "ok" and report.api_plays_enriched > 0
    return world, told, _enriched(world)


def _enriched(world: World) -> int:
    engine = sa.create_engine(world.settings.warehouse_url.get_secret_value())
    try:
        with engine.connect() as conn:
            query = sa.select(sa.func.count()).where(schema.plays.c.matched_import_id.is_not(None))
            return int(conn.execute(query).scalar_one())
    finally:
        engine.dispose()


def test_a_quarantined_object_does_not_stop_a_rebuild(tmp_path: Path) -> None:
    world, told, enriched = _world_with_an_import(tmp_path)
    store = world.runtime.store
    fetches = [
        f
        for i in store.list("recently_played/")
        for f in json.loads(stored_json(store.get(i.key) or b"", i.key))["fetches"]
    ]
    first = next(iter(store.list("recently_played/"))).key
    envelope = json.loads(stored_json(store.get(first) or b"", first))
    fetch = next(f for f in fetches if f["response"]["items"])
    fetch["response"]["items"][0]["played_at"] = "yesterday"
    envelope["fetches"] = [fetch]
    store.merge("recently_played/2026110123.json", envelope)

    report = rebuild(world.settings, runtime=world.fresh_runtime())

    told.append(shown(report))
    world.runtime = world.fresh_runtime()  # the checks read the new file, not the replaced one
    assert report.counts["imports_replayed"] == 1 and _enriched(world) == enriched
    assert_three_checks(
        world, told, "rebuild: partial", "quarantined recently_played/2026110123.json", "yesterday"
    )


def test_ctrl_c_mid_rebuild_changes_nothing_and_the_next_rebuild_completes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world, told, enriched = _world_with_an_import(tmp_path)

    def ctrl_c(*_args: Any, **_kwargs: Any) -> Any:
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(importlib.import_module("spotify_pipeline.jobs.rebuild"), "import_history", ctrl_c)
        with pytest.raises(PipelineError) as caught:
            rebuild(world.settings, runtime=world.fresh_runtime())
    told.append(f"error: {caught.value}")
    assert _enriched(world) == enriched  # the old warehouse, export columns and all
    assert_three_checks(world, told, "rebuild interrupted: the warehouse was not changed; run it again")

    report = rebuild(world.settings, runtime=world.fresh_runtime())

    told.append(shown(report))
    world.runtime = world.fresh_runtime()  # the checks read the new file, not the replaced one
    assert _enriched(world) == enriched
    assert_three_checks(
        world, told, "rebuild interrupted: the warehouse was not changed; run it again", "1 imports replayed"
    )


def test_a_deleted_warehouse_is_rebuilt_from_the_raw_zone_with_its_imports(tmp_path: Path) -> None:
    world, told, enriched = _world_with_an_import(tmp_path)
    world.runtime.engine.dispose()
    for path in tmp_path.glob("warehouse.db*"):
        path.unlink()

    report = rebuild(world.settings, runtime=world.fresh_runtime())

    told.append(shown(report))
    world.runtime = world.fresh_runtime()  # the checks read the new file, not the deleted one
    assert _enriched(world) == enriched
    assert_three_checks(world, told, "rebuild: ok", "1 imports replayed")
