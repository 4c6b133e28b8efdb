"""Fixtures of the import-job tests: a migrated warehouse on SQLite, MariaDB or PostgreSQL, and
settings pointing at it (user ``alice``, a raw zone in the test's folder)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from spotify_pipeline.settings import Settings


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
