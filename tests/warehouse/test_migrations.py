from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect

from spotify_pipeline.errors import WarehouseError
from spotify_pipeline.warehouse import schema
from spotify_pipeline.warehouse.engine import current_revision, head_revision, make_engine, upgrade


def _fresh(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Engine:
    if kind == "sqlite":
        return make_engine(f"sqlite:///{tmp_path}/nested/dir/warehouse.db")
    return make_engine(request.getfixturevalue(f"{kind}_url"))


KINDS = [
    "sqlite",
    pytest.param("mysql", marks=pytest.mark.mysql),
    pytest.param("postgres", marks=pytest.mark.postgres),
]


def _diff(engine: Engine, metadata: sa.MetaData) -> list[object]:
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        return list(compare_metadata(context, metadata))


@pytest.mark.parametrize("kind", KINDS)
def test_migrated_schema_equals_schema_py(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    engine = _fresh(kind, tmp_path, request)
    assert current_revision(engine) is None
    upgrade(engine)
    upgrade(engine)  # idempotent
    assert current_revision(engine) == head_revision() == "0008"
    assert _diff(engine, schema.metadata) == []

    # the comparison is not vacuous: a column schema.py lacks, or a changed type, shows up
    changed = sa.MetaData(naming_convention=schema.NAMING)
    for table in schema.metadata.sorted_tables:
        table.to_metadata(changed)
    changed.tables["plays"].append_column(sa.Column("extra", sa.Integer))
    changed.tables["tracks"].c.isrc.type = sa.String(12)
    kinds = sorted(d[0] if isinstance(d, tuple) else d[0][0] for d in _diff(engine, changed))  # type: ignore[index]
    assert kinds == ["add_column", "modify_type"]

    if kind == "mysql":
        columns = {c["name"]: c for c in inspect(engine).get_columns("plays")}
        assert getattr(columns["played_at"]["type"], "fsp", None) == 3
        with engine.connect() as conn:
            ddl = conn.exec_driver_sql("SHOW CREATE TABLE plays").one()[1]
            assert "`played_at` datetime(3) NOT NULL" in ddl
            collation = conn.exec_driver_sql(
                "SELECT TABLE_COLLATION FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() "
                "AND TABLE_NAME = 'artists'"
            ).scalar()
        assert collation == "utf8mb4_bin"
    engine.dispose()


def test_sqlite_engine_creates_the_folder_and_uses_wal(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/a/b/warehouse.db")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10_000
    assert (tmp_path / "a" / "b" / "warehouse.db").exists()
    engine.dispose()


def test_sqlite_transaction_rolls_back_reads_and_writes_together(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/w.db")
    upgrade(engine)
    with pytest.raises(RuntimeError), engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO users (id, created_at) VALUES ('u', '2026-01-01 00:00:00.000000')"))
        raise RuntimeError("fail mid-object")
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM users")).scalar() == 0
    engine.dispose()


@pytest.mark.mysql
def test_mysql_engine_settings(mysql_url: str) -> None:
    engine = make_engine(mysql_url.replace("?charset=utf8mb4", ""))
    assert engine.url.query["charset"] == "utf8mb4"
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT @@character_set_client").scalar() == "utf8mb4"
        assert conn.exec_driver_sql("SELECT @@tx_isolation").scalar() == "READ-COMMITTED"
    engine.dispose()


@pytest.mark.postgres
def test_postgres_engine_settings(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SHOW timezone").scalar() == "UTC"
        assert conn.exec_driver_sql("SHOW statement_timeout").scalar() == "1min"
        assert conn.exec_driver_sql("SHOW transaction_isolation").scalar() == "read committed"
    engine.dispose()


def test_unsupported_url_names_the_setting() -> None:
    with pytest.raises(WarehouseError, match="SPOTIFY_PIPELINE_WAREHOUSE_URL"):
        make_engine("mssql+pyodbc://localhost/x")


@pytest.mark.parametrize("kind", KINDS)
def test_0004_widens_names_and_numbers_keeping_every_value(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    from datetime import UTC, datetime

    engine = _fresh(kind, tmp_path, request)
    upgrade(engine, "0003")
    at = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(schema.users.insert().values(id="alice", created_at=at))
        conn.execute(
            schema.tracks.insert().values(id="t1", name="Ä" * 1024, duration_ms=2**31 - 1, first_seen_at=at)
        )
        conn.execute(schema.artists.insert().values(id="a1", name="x", genres='["pop"]', followers=7))
        conn.execute(
            schema.plays.insert().values(
                user_id="alice", played_at=at, track_id="t1", source="export", ms_played=5, loaded_at=at
            )
        )
    upgrade(engine, "0004")
    assert current_revision(engine) == "0004"
    long_name, big = "名" * 70_000, 3_000_000_000  # over MySQL TEXT's 64 KiB; over INTEGER's range
    with engine.begin() as conn:
        conn.execute(
            schema.tracks.insert().values(id="t2", name=long_name, duration_ms=big, first_seen_at=at)
        )
        conn.execute(
            schema.plays.insert().values(
                user_id="alice", played_at=datetime(2026, 11, 2, 9, tzinfo=UTC), track_id="t2",
                source="export", ms_played=big, track_name=long_name, loaded_at=at,
            )
        )  # fmt: skip
        with pytest.raises(sa.exc.IntegrityError):  # names stay NOT NULL through the rewrite
            with conn.begin_nested():
                conn.execute(schema.tracks.insert().values(id="t3", name=None, first_seen_at=at))
    with engine.connect() as conn:
        tracks = dict(conn.execute(sa.select(schema.tracks.c.id, schema.tracks.c.name)).all())
        durations = dict(conn.execute(sa.select(schema.tracks.c.id, schema.tracks.c.duration_ms)).all())
        plays = conn.execute(sa.select(schema.plays.c.ms_played, schema.plays.c.track_name)).all()
        artist = conn.execute(sa.select(schema.artists.c.genres, schema.artists.c.followers)).one()
    assert tracks == {"t1": "Ä" * 1024, "t2": long_name}
    assert durations == {"t1": 2**31 - 1, "t2": big}
    assert sorted(plays, key=lambda p: p[0]) == [(5, None), (big, long_name)]
    assert tuple(artist) == ('["pop"]', 7)
    upgrade(engine)  # and on to the head revision
    assert _diff(engine, schema.metadata) == []
    engine.dispose()
