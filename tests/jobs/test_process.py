"""`process` counts its work for a progress bar, and a Ctrl-C through the CLI is one line."""

from __future__ import annotations

import importlib
import json
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from spotify_pipeline.cli.main import app
from spotify_pipeline.jobs import download_recently_played, process

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
