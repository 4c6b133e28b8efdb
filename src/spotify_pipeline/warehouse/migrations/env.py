"""Alembic environment. ``warehouse.engine.upgrade`` passes an open connection in
``config.attributes["connection"]``; the ``alembic`` command line (developers writing a new
revision) may instead set ``sqlalchemy.url`` in its own ini file."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from spotify_pipeline.warehouse.engine import make_engine
from spotify_pipeline.warehouse.schema import metadata

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER most things
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no connection given and no sqlalchemy.url set: run `spotify-pipeline db upgrade`")
    engine = make_engine(url)
    with engine.begin() as conn:
        _run(conn)


if context.is_offline_mode():
    raise RuntimeError("offline (--sql) migrations are not supported: run `spotify-pipeline db upgrade`")
run_migrations_online()
