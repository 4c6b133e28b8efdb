"""Shared pieces of the export tests: a warehouse on SQLite or MariaDB, settings pointing at it."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from spotify_pipeline.exports.report import BUCKETS, ImportReport
from spotify_pipeline.settings import Settings

EXPORT_FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("mysql", marks=pytest.mark.mysql),
        pytest.param("postgres", marks=pytest.mark.postgres),
    ]
)
def warehouse_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'warehouse.db'}"
    return str(request.getfixturevalue(f"{request.param}_url"))


@pytest.fixture()
def engine(warehouse_url: str) -> Engine:
    from spotify_pipeline.warehouse.engine import make_engine, upgrade

    eng = make_engine(warehouse_url)
    upgrade(eng)
    return eng


@pytest.fixture()
def settings(warehouse_url: str, tmp_path: Path) -> Settings:
    return Settings(warehouse_url=warehouse_url, user="alice", raw_zone=str(tmp_path / "raw"))


def assert_adds_up(report: ImportReport) -> None:
    """The identity every report must hold, checked independently of ImportReport.check()."""
    parts = {name: report.bucket(name) for name in BUCKETS}
    assert sum(parts.values()) == report.records_read, parts
    assert report.imported_new <= report.imported
