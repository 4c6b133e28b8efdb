"""The Datasette metadata shipped for the SQLite warehouse: it names only real tables and columns,
and every canned query runs (with its :user, :from, :to) on a warehouse the demo filled."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest

from spotify_pipeline.jobs.demo import demo_settings, run_demo
from spotify_pipeline.warehouse import schema

METADATA = Path(schema.__file__).resolve().parents[1] / "insights" / "datasette-metadata.json"


def _database() -> dict:  # type: ignore[type-arg]
    return json.loads(METADATA.read_text(encoding="utf-8"))["databases"]["warehouse"]


def test_metadata_names_only_real_tables_and_columns() -> None:
    db = _database()
    assert set(db["tables"]) == set(schema.metadata.tables)  # every table described
    for name, table in db["tables"].items():
        assert table["description"]
        assert set(table.get("columns", {})) <= set(schema.metadata.tables[name].c.keys()), name
    assert {"top_artists", "top_tracks", "top_albums"} <= set(db["queries"])


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("demo")
    run_demo(demo_settings(folder), days=3, poll_minutes=120)
    return folder / "warehouse.db"


def test_every_canned_query_runs_on_the_demo_warehouse(demo_db: Path) -> None:
    conn = sqlite3.connect(demo_db)
    try:
        (total,) = conn.execute("SELECT COUNT(*) FROM plays WHERE user_id = 'demo'").fetchone()
        for name, query in _database()["queries"].items():
            params = {p: v for p, v in {"user": "demo", "from": "2026-11-01", "to": "2026-11-30"}.items()
                      if re.search(rf":{p}\b", query["sql"])}  # fmt: skip
            rows = conn.execute(query["sql"], params).fetchall()
            if name != "open_gaps":  # the typical demo listener has none
                assert rows, name
            if name in ("minutes_per_day", "hour_weekday", "discoveries"):
                assert sum(r[-1] if name != "minutes_per_day" else r[1] for r in rows) > 0, name
            if name in ("minutes_per_day", "hour_weekday"):
                assert sum(r[1] if name == "minutes_per_day" else r[2] for r in rows) == total, name
        top = conn.execute(_database()["queries"]["top_artists"]["sql"],
                           {"user": "demo", "from": "2026-11-01", "to": "2026-11-30"}).fetchall()  # fmt: skip
        assert sum(r[1] for r in top) == total  # every play under one artist (fewer than 50 artists)
    finally:
        conn.close()
