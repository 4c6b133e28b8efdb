from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect

from spotify_pipeline.warehouse import schema
from spotify_pipeline.warehouse.engine import current_revision, head_revision, make_engine, upgrade


def _fresh(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Engine:
    if kind == "sqlite":
        return make_engine(f"sqlite:///{tmp_path}/nested/dir/warehouse.db")
    return make_engine(request.getfixturevalue("mysql_url"))


def _diff(engine: Engine, metadata: sa.MetaData) -> list[object]:
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        return list(compare_metadata(context, metadata))


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("mysql", marks=pytest.mark.mysql)])
def test_migrated_schema_equals_schema_py(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    engine = _fresh(kind, tmp_path, request)
    assert current_revision(engine) is None
    upgrade(engine)
    upgrade(engine)  # idempotent
    assert current_revision(engine) == head_revision() == "0005"
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


def test_unsupported_url_names_the_setting() -> None:
    with pytest.raises(ValueError, match="SPOTIFY_PIPELINE_WAREHOUSE_URL"):
        make_engine("postgresql://localhost/x")
