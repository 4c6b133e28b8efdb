"""Every warehouse test runs on SQLite (a temporary file), MariaDB and PostgreSQL.

MariaDB and PostgreSQL: one database per test session, migrated once and emptied between tests (a migration per
test costs a second; emptying 15 small tables costs milliseconds). The migration test itself uses
a fresh database per test (``mysql_url``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from spotify_pipeline.warehouse.engine import make_engine, upgrade
from spotify_pipeline.warehouse.schema import metadata

ENGINES = [
    "sqlite",
    pytest.param("mysql", marks=pytest.mark.mysql),
    pytest.param("postgres", marks=pytest.mark.postgres),
]


@pytest.fixture(scope="session")
def mysql_warehouse(mysql_server_url: str) -> Iterator[Engine]:
    import pymysql
    from tests.conftest import MYSQL_HOST, MYSQL_PORT

    name = "sp_wh_" + uuid.uuid4().hex[:12]
    admin = pymysql.connect(host=MYSQL_HOST, port=MYSQL_PORT, user="root", password="", autocommit=True)
    try:
        with admin.cursor() as cur:
            # the server default collation (case-insensitive) on purpose: the tables must not depend on it
            cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        engine = make_engine(f"{mysql_server_url}/{name}")
        upgrade(engine)
        yield engine
        engine.dispose()
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()


@pytest.fixture(scope="session")
def postgres_warehouse(postgres_server_url: str) -> Iterator[Engine]:
    from tests.conftest import create_pg_database, drop_pg_database

    name = create_pg_database("sp_wh_")
    try:
        engine = make_engine(f"{postgres_server_url}/{name}")
        upgrade(engine)
        yield engine
        engine.dispose()
    finally:
        drop_pg_database(name)


@pytest.fixture(params=ENGINES)
def warehouse_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database (no migration run): for the migration tests."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fresh.db'}"
    return str(request.getfixturevalue(f"{request.param}_url"))


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path}/warehouse.db")
        upgrade(eng)
        yield eng
        eng.dispose()
        return
    eng = request.getfixturevalue(f"{request.param}_warehouse")
    _empty(eng)
    yield eng


def _empty(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())
