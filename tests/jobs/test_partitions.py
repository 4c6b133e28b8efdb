"""Loading per raw-zone partition (one Airflow task per listener), a backfill's reload, and tasks that
refuse a warehouse behind the code instead of migrating it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from tests.jobs.test_users import plays_by_user, runtime_for, three_users

from spotify_pipeline.errors import ConfigError
from spotify_pipeline.jobs import process
from spotify_pipeline.jobs.runtime import Runtime, checked_engine
from spotify_pipeline.jobs.users import run_all_users


def test_process_loads_only_the_partition_it_is_given(tmp_path: Path) -> None:
    world = three_users(tmp_path)
    world.clock.advance(timedelta(hours=12))
    run = run_all_users(world.settings, runtime=world.runtime, runtime_for=runtime_for(world))  # type: ignore[arg-type]
    assert not run.failed
    with world.runtime.engine.begin() as conn:  # forget what the run loaded
        for table in ("plays", "landed_files"):
            conn.exec_driver_sql(f"DELETE FROM {table}")  # noqa: S608 - fixed names
    report = process(world.settings, runtime=world.fresh_runtime(), partition="users/carol/")
    assert report.counts["objects_loaded"] >= 1, report.to_dict()
    assert set(plays_by_user(world)) == {"carol"}
    assert (
        process(world.settings, runtime=world.fresh_runtime(), partition="").counts.get("objects_loaded", 0)
        == 0
    )


def test_a_backfill_reloads_the_objects_of_its_interval(tmp_path: Path) -> None:
    world = three_users(tmp_path)
    world.clock.advance(timedelta(hours=12))
    run_all_users(world.settings, runtime=world.runtime, runtime_for=runtime_for(world))  # type: ignore[arg-type]
    assert process(world.settings, runtime=world.fresh_runtime()).counts.get("objects_loaded", 0) == 0
    now = world.clock.now().replace(minute=0, second=0, microsecond=0)
    again = process(
        world.settings, runtime=world.fresh_runtime(), reload_between=(now, now + timedelta(hours=1))
    )
    assert again.counts["objects_loaded"] >= 3  # every listener's objects of that hour, again
    assert again.counts.get("plays_inserted", 0) == 0  # and nothing doubled


def test_a_task_refuses_a_warehouse_behind_the_code(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    with pytest.raises(ConfigError, match="spotify-pipeline db upgrade"):
        checked_engine(url)
    world = three_users(tmp_path / "w2")
    rt = Runtime(world.settings.model_copy(update={"auto_migrate": False}))
    assert rt.engine is not None  # migrated by the world: accepted as it is
