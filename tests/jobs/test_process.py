"""`process` counts its work for a progress bar, and a Ctrl-C through the CLI is one line."""

from __future__ import annotations

import importlib
import json
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from spotify_pipeline.cli.main import app
from spotify_pipeline.jobs import download_recently_played, process
from spotify_pipeline.landing.decode import stored_json

from .harness import World, make_world


def _landed(tmp_path: Path, hours: int = 3) -> World:
    world = make_world(tmp_path)
    world.clock.advance(timedelta(hours=8))
    for _ in range(hours):
        world.clock.advance(timedelta(hours=1))
        download_recently_played(world.settings, runtime=world.fresh_runtime())
    return world


def test_progress_counts_raw_objects_not_bytes(tmp_path: Path) -> None:
    world = _landed(tmp_path)
    (tmp_path / "raw" / "notes.txt").write_text("not a raw object: not counted")
    calls: list[tuple[int, int | None, str | None]] = []
    report = process(
        world.settings,
        runtime=world.fresh_runtime(),
        progress=lambda d, t=None, s=None: calls.append((d, t, s)),
    )
    assert report.counts["objects_loaded"] == 3
    assert [(d, t) for d, t, _ in calls] == [(0, 3), (1, 3), (2, 3), (3, 3)]
    assert {s for _, _, s in calls} == {"loading raw objects"}
    calls.clear()
    process(
        world.settings,
        runtime=world.fresh_runtime(),
        progress=lambda d, t=None, s=None: calls.append((d, t, s)),
    )
    assert calls == [(0, 0, "loading raw objects")]  # nothing new: nothing to count


def test_ctrl_c_in_the_process_command_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    world = _landed(tmp_path, hours=2)
    for key in [k for k in os.environ if k.startswith("SPOTIFY_PIPELINE_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("SPOTIFY_PIPELINE_RAW_ZONE", world.settings.raw_zone)
    monkeypatch.setenv("SPOTIFY_PIPELINE_WAREHOUSE_URL", world.settings.warehouse_url.get_secret_value())
    monkeypatch.setenv("SPOTIFY_PIPELINE_USER", "alice")
    monkeypatch.chdir(tmp_path)
    module = importlib.import_module("spotify_pipeline.jobs.process")

    def interrupted(*_: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(module, "_process_one", interrupted)
    result = CliRunner().invoke(app, ["process"])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: process interrupted (Ctrl-C) while loading"), lines


def test_a_bare_page_the_original_dags_wrote_loads_its_plays(tmp_path: Path) -> None:
    """The original DAGs saved the page alone (no fetch status): its plays load, they are not
    taken for a failed fetch's answer (they were: 'loaded 1 objects, 0 new plays')."""
    world = make_world(tmp_path)
    track = {
        "id": "a" * 22,
        "name": "Go Outside",
        "type": "track",
        "artists": [{"id": "b" * 22, "name": "Cults"}],
    }
    page = {"items": [{"played_at": "2026-11-01T10:00:00.000Z", "track": track}], "cursors": None}
    legacy = tmp_path / "raw" / "recently_played" / "recently_played_2026110110.json"
    legacy.parent.mkdir(parents=True)
    legacy.write_text(json.dumps(page))
    report = process(world.settings, runtime=world.fresh_runtime())
    assert (
        report.summary() == "process: ok - loaded 1 objects, 1 new plays (objects_loaded=1, plays_inserted=1)"
    )


def _both_variants(tmp_path: Path) -> tuple[World, str]:
    """An hour holding X.json (one poll, written before compression) and X.json.gz (that poll, merged
    in by the next one, and the next one): the two polls, each once, in two files."""
    world = make_world(tmp_path)
    world.clock.advance(timedelta(hours=9, minutes=10))
    hour = world.clock.now()
    first = download_recently_played(world.settings, runtime=world.fresh_runtime(), hour=hour)
    gz = first.message.rsplit(f"{tmp_path / 'raw'}/", 1)[1]
    assert gz.endswith(".json.gz")
    plain = gz.removesuffix(".gz")
    # what a writer with raw_compression=none had written: the same poll, uncompressed
    (tmp_path / "raw" / plain).write_bytes(stored_json((tmp_path / "raw" / gz).read_bytes(), gz))
    world.clock.advance(timedelta(minutes=40))
    download_recently_played(world.settings, runtime=world.fresh_runtime(), hour=hour)
    return world, plain


def _pages_saved(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    from spotify_pipeline.warehouse import writes

    saved: list[int] = []
    real = writes.save_recently_played

    def counting(conn: Any, page: Any, **kwargs: Any) -> int:
        saved.append(1)
        return real(conn, page, **kwargs)

    monkeypatch.setattr(writes, "save_recently_played", counting)
    return saved


def test_an_hour_in_both_variants_loads_each_poll_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world, plain = _both_variants(tmp_path)
    saved = _pages_saved(monkeypatch)
    report = process(world.settings, runtime=world.fresh_runtime())
    assert report.status == "ok" and report.counts["objects_loaded"] == 1
    assert len(saved) == 2  # two polls: the one in both files is loaded once, not twice
    with world.runtime.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT key, status, etag FROM landed_files ORDER BY key")).all()
    held = {i.key: i.etag for i in world.runtime.store.list()}
    assert [(k, s) for k, s, _ in rows] == [(plain, "loaded"), (plain + ".gz", "loaded")]
    assert all(held[k] == etag for k, _, etag in rows)  # each variant under its own key and etag
    saved.clear()
    again = process(world.settings, runtime=world.fresh_runtime())
    assert again.counts.get("objects_loaded", 0) == 0 and saved == []  # nothing new: nothing read


def test_a_damaged_variant_is_quarantined_alone_and_the_other_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world, plain = _both_variants(tmp_path)
    (tmp_path / "raw" / plain).write_bytes(b'{"fetches": [')
    saved = _pages_saved(monkeypatch)
    report = process(world.settings, runtime=world.fresh_runtime())
    assert report.counts["objects_loaded"] == 1 and report.counts["objects_quarantined"] == 1
    assert len(saved) == 2 and report.problems == [
        f"quarantined {plain} (copy at _quarantine/{plain}): truncated JSON at byte 13"
    ]
    # the .gz changes (a later poll): the damaged .json, quarantined at its etag, is not read again
    world.clock.advance(timedelta(minutes=5))
    hour = world.clock.now().replace(minute=0)
    download_recently_played(world.settings, runtime=world.fresh_runtime(), hour=hour)
    again = process(world.settings, runtime=world.fresh_runtime())
    assert again.counts["objects_loaded"] == 1 and again.counts.get("objects_quarantined", 0) == 0


def test_a_value_the_warehouse_refuses_quarantines_only_its_object_in_a_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Objects share a transaction (a batch) with a savepoint each: one refused write rolls back
    its own savepoint, nothing of the others, and no row of it stays."""
    from sqlalchemy.exc import IntegrityError

    from spotify_pipeline.warehouse import writes

    world = _landed(tmp_path, hours=3)
    keys = sorted(i.key for i in world.runtime.store.list("recently_played/"))
    real = writes.save_recently_played

    def refuse_the_second(conn: Any, rows: Any, *args: Any, **kwargs: Any) -> int:
        if rows.plays and rows.plays[0].raw_key == keys[1]:
            conn.execute(sa.text("DELETE FROM plays"))  # undone by the savepoint's rollback
            raise IntegrityError("INSERT", {}, Exception("refused"))
        return real(conn, rows, *args, **kwargs)

    monkeypatch.setattr(writes, "save_recently_played", refuse_the_second)
    report = process(world.settings, runtime=world.fresh_runtime())
    assert report.counts["objects_loaded"] == 2 and report.counts["objects_quarantined"] == 1
    assert report.problems == [
        f"quarantined {keys[1]} (copy at _quarantine/{keys[1]}): the warehouse refused it: Exception: refused"
    ]
    with world.runtime.engine.connect() as conn:
        status = dict(conn.execute(sa.text("SELECT key, status FROM landed_files")).all())
        plays = conn.execute(sa.text("SELECT COUNT(*) FROM plays")).scalar_one()
    assert status == {keys[0]: "loaded", keys[1]: "quarantined", keys[2]: "loaded"}
    assert plays == report.counts["plays_inserted"] > 0  # the first object's plays were not deleted
