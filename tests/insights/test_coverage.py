"""Per-day coverage after polling with a gap and importing the export (SQLite and MariaDB)."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from spotify_pipeline.insights.coverage import coverage, render_coverage_table, to_csv
from spotify_pipeline.jobs.import_history import import_history
from spotify_pipeline.settings import Settings
from spotify_pipeline.warehouse import rollups, writes
from spotify_pipeline.warehouse import schema as s
from spotify_pipeline.warehouse.engine import make_engine, upgrade

FIXTURE = Path(__file__).resolve().parents[1] / "exports" / "fixtures" / "Streaming_History_Audio_2024_0.json"
ACCOUNT = FIXTURE.parent / "StreamingHistory_music_0.json"


@pytest.fixture(params=["sqlite", pytest.param("mysql", marks=pytest.mark.mysql)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return (
        f"sqlite:///{tmp_path / 'w.db'}"
        if request.param == "sqlite"
        else str(request.getfixturevalue("mysql_url"))
    )


def test_coverage_counts_and_rate(url: str, tmp_path: Path) -> None:
    engine = make_engine(url)
    upgrade(engine)
    with engine.begin() as conn:
        writes.ensure_user(conn, "alice", datetime(2024, 3, 1, tzinfo=UTC))
        conn.execute(s.plays.insert(), [
            # matched by the export's "Drunk in Love" (ts 08:15:12)
            {"user_id": "alice", "played_at": datetime(2024, 3, 1, 8, 15, 12, 700_000, tzinfo=UTC),
             "track_id": "6jG2YzhxptolDzLHTGLt7S", "source": "api", "loaded_at": datetime(2024, 3, 2, tzinfo=UTC)},
            # API only (the export does not list it), next day
            {"user_id": "alice", "played_at": datetime(2024, 3, 2, 10, 0, tzinfo=UTC),
             "track_id": "1" * 22, "source": "api", "loaded_at": datetime(2024, 3, 2, tzinfo=UTC)},
        ])  # fmt: skip
        rollups.refresh(conn, "alice")  # written by hand: rolled up as the jobs do
    report = import_history(
        Settings(warehouse_url=url, user="alice", raw_zone=str(tmp_path / "raw")), FIXTURE, engine=engine
    )
    assert report.duplicates_of_api == 1 and report.imported == 1  # "Go Outside" only the export has

    rows = coverage(engine, "alice")
    assert [(r.day, r.api_plays, r.export_plays, r.matched, r.api_only, r.export_only) for r in rows] == [
        (date(2024, 3, 1), 1, 2, 1, 0, 1),
        (date(2024, 3, 2), 1, 0, 0, 1, 0),
    ]
    assert rows[0].capture_rate == 0.5 and rows[1].capture_rate is None  # no export play: no rate
    assert coverage(engine, "alice", start=datetime(2024, 3, 2, tzinfo=UTC)) == rows[1:]
    assert (
        coverage(engine, "alice", end=datetime(2024, 3, 1, 23, tzinfo=UTC) + timedelta(hours=1)) == rows[:1]
    )
    assert coverage(engine, "bob") == []

    out = tmp_path / "coverage.csv"
    assert to_csv(rows, out) == 2
    with out.open() as fh:
        lines = list(csv.DictReader(fh))
    assert (
        lines[0]["day"] == "2024-03-01"
        and lines[0]["capture_rate"] == "0.5"
        and lines[1]["capture_rate"] == ""
    )
    assert render_coverage_table(rows).row_count == 3  # two days + total


def test_matched_is_what_an_import_matched_not_any_ms_played(url: str, tmp_path: Path) -> None:
    """An API row whose ms_played was set by something else than an import is API-only; a row an
    account-data import matched counts as matched and names that import."""
    engine = make_engine(url)
    upgrade(engine)
    at = datetime(2024, 3, 1, 8, 20, 40, 100_000, tzinfo=UTC)
    with engine.begin() as conn:
        writes.ensure_user(conn, "alice", at)
        conn.execute(s.plays.insert(), [
            {"user_id": "alice", "played_at": at, "track_id": "2uqoaH8yHnL6Vc6FDm2bYn", "track_name": "Go Outside",
             "artist_name": "Cults", "source": "api", "loaded_at": at},
            {"user_id": "alice", "played_at": at + timedelta(hours=1), "track_id": "1" * 22, "track_name": "Other",
             "artist_name": "Someone", "source": "api", "loaded_at": at},
        ])  # fmt: skip
        rollups.refresh(conn, "alice")  # written by hand: rolled up as the jobs do
    with engine.begin() as conn:  # e.g. a future job filling durations from the track length
        conn.execute(s.plays.update().where(s.plays.c.track_id == "1" * 22).values(ms_played=1000))
    report = import_history(
        Settings(warehouse_url=url, user="alice", raw_zone=str(tmp_path / "raw")), ACCOUNT, engine=engine
    )
    assert report.duplicates_of_api == 1
    with engine.connect() as conn:
        matched = conn.execute(select(s.plays.c.matched_import_id).where(s.plays.c.played_at == at)).scalar()
    assert matched == report.import_id
    day = coverage(engine, "alice")[0]
    assert (day.api_plays, day.matched, day.api_only) == (2, 1, 1)
