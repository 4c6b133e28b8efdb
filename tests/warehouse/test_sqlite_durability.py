"""SQLite runs in WAL mode with ``synchronous=NORMAL`` (SQLite's recommendation for WAL): a commit
does not wait for the disk, a power cut may undo the last commits but never corrupts the file, and
what a commit carries (an object's plays with its manifest entry, an import batch) is undone together."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from spotify_pipeline.warehouse.engine import make_engine, upgrade


def test_every_connection_is_wal_with_synchronous_normal(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    upgrade(engine)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
            assert conn.execute(text("PRAGMA synchronous")).scalar_one() == 1  # NORMAL
    finally:
        engine.dispose()
