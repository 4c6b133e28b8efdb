"""docs/schema.md cannot drift from warehouse/schema.py: every table and column is documented (and
nothing else), and every example query runs on a warehouse the demo and an export import filled."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import Connection, Engine
from tests.conftest import ROOT

from spotify_pipeline.jobs.demo import demo_settings, run_demo
from spotify_pipeline.jobs.import_history import import_history
from spotify_pipeline.warehouse import schema

SCHEMA_MD = (ROOT / "docs" / "schema.md").read_text(encoding="utf-8")
EXPORTS = [
    ROOT / "tests" / "exports" / "fixtures" / "endsong_0.json",  # holds a private-session play
    ROOT
    / "tests"
    / "fixtures"
    / "spotify"
    / "privacy"
    / "extended-streaming-history"
    / "Streaming_History_Audio_2026.json",
]


def _sections() -> dict[str, str]:
    """The text under each `## \\`table\\`` heading, by table name."""
    parts = re.split(r"^## `([a-z_]+)`\s*$", SCHEMA_MD, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def _columns(section: str) -> list[str]:
    return re.findall(r"^\| `([a-z_0-9]+)` \|", section, flags=re.M)


def _queries(section: str) -> list[str]:
    return re.findall(r"^```sql\n(.*?)^```", section, flags=re.M | re.S)


def test_every_table_and_column_is_documented() -> None:
    sections = _sections()
    assert set(sections) == set(schema.metadata.tables), (
        f"tables without a section: {sorted(set(schema.metadata.tables) - set(sections))}; "
        f"sections without a table: {sorted(set(sections) - set(schema.metadata.tables))}"
    )
    for name, table in schema.metadata.tables.items():
        documented = _columns(sections[name])
        assert len(documented) == len(set(documented)), f"{name}: a column is documented twice"
        actual = [c.name for c in table.columns]
        assert set(documented) == set(actual), (
            f"docs/schema.md, table {name}: undocumented {sorted(set(actual) - set(documented))}, "
            f"documented but absent {sorted(set(documented) - set(actual))}"
        )


def test_every_table_has_one_example_query() -> None:
    for name, section in _sections().items():
        assert len(_queries(section)) == 1, f"docs/schema.md, table {name}: one ```sql example expected"


def _filled_warehouse(base: Path, warehouse_url: str | None = None) -> Engine:
    settings = demo_settings(base, warehouse_url=warehouse_url)
    # A binge listener polled every 2 hours: plays, catalog, follows, a gap, the manifest, fetch runs.
    run_demo(settings, profile="binge", days=2, poll_minutes=120)
    report = import_history(settings, EXPORTS)  # import_runs, export plays, private_plays
    assert report.status == "ok", report.to_dict()
    return create_engine(settings.warehouse_url.get_secret_value())


def _count(conn: Connection, table: str) -> int:
    return int(conn.execute(select(func.count()).select_from(schema.metadata.tables[table])).scalar_one())


def _run_examples(engine: Engine) -> None:
    with engine.connect() as conn:
        for name, section in _sections().items():
            (query,) = _queries(section)
            result = conn.execute(text(query))
            assert list(result.keys()), f"{name}: the example names no column"
            rows = result.all()
            has_rows = _count(conn, name) > 0
            # An unfiltered example over a table with rows must show some: it is an example, not a no-op.
            if has_rows and "WHERE" not in query.upper():
                assert rows, f"docs/schema.md, table {name}: the example returned nothing\n{query}"


def test_the_examples_run_on_sqlite(tmp_path: Path) -> None:
    engine = _filled_warehouse(tmp_path)
    try:
        with engine.connect() as conn:
            empty = [t for t in schema.metadata.tables if not _count(conn, t)]
        # Development mode gives no audio features, and the simulator knows every id it hands out;
        # the demo checks no releases and writes no playlist back.
        quiet = {
            "audio_features",
            "metadata_misses",
            "release_checks",
            "releases",
            "recommendation_playlists",
            "play_names",  # every play here has a track id (no account-data export imported)
        }
        assert set(empty) <= quiet, empty
        _run_examples(engine)
    finally:
        engine.dispose()


@pytest.mark.mysql
def test_the_examples_run_on_mariadb(tmp_path: Path, mysql_url: str) -> None:
    engine = _filled_warehouse(tmp_path, warehouse_url=mysql_url)
    try:
        _run_examples(engine)
    finally:
        engine.dispose()
