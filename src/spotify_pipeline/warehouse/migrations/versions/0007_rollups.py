"""Rollups of the plays for the read side on a long history (``warehouse/rollups.py``).

* ``play_hours``: per user and UTC hour: plays, milliseconds, API plays, matched API plays.
* ``play_tracks``: per user and track id: all-time totals, the first play, the duration summed with.
* ``play_names``: per user and exact names, for plays without a track id: the same.
* ``play_track_months``: per user, UTC month and track id: totals (top lists of a long period).

Backfilled here from the plays already stored (``rollups.refresh_all`` but ``play_names``, which
0008 fills with the name keys it adds); from then on ``process``,
``import-history`` and ``rebuild`` keep them exact. Downgrade drops them (no other data).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

MYSQL: dict[str, Any] = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}
ID = 64


def _ts() -> sa.types.TypeEngine[Any]:
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=3), "mysql", "mariadb")


def _long_text() -> sa.types.TypeEngine[Any]:
    return sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")


def _sums() -> list[sa.Column[Any]]:
    return [
        sa.Column("plays", sa.Integer(), nullable=False),
        sa.Column("ms_known", sa.BigInteger(), nullable=False),
        sa.Column("plays_without_ms", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("skip_known", sa.Integer(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "play_hours",
        sa.Column("user_id", sa.String(ID), nullable=False),
        sa.Column("hour", sa.Integer(), nullable=False),
        sa.Column("plays", sa.Integer(), nullable=False),
        sa.Column("ms", sa.BigInteger(), nullable=False),
        sa.Column("api_plays", sa.Integer(), nullable=False),
        sa.Column("api_matched", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "hour", name="pk_play_hours"),
        sqlite_with_rowid=False,
        **MYSQL,
    )
    op.create_table(
        "play_tracks",
        sa.Column("user_id", sa.String(ID), nullable=False),
        sa.Column("track_id", sa.String(ID), nullable=False),
        *_sums(),
        sa.Column("first_played_at", _ts(), nullable=False),
        sa.Column("duration_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "track_id", name="pk_play_tracks"),
        sqlite_with_rowid=False,
        **MYSQL,
    )
    op.create_table(
        "play_names",
        sa.Column("user_id", sa.String(ID), nullable=False),
        sa.Column("names_sha256", sa.String(64), nullable=False),
        sa.Column("track_name", _long_text()),
        sa.Column("artist_name", _long_text()),
        sa.Column("album_name", _long_text()),
        *_sums(),
        sa.Column("first_played_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "names_sha256", name="pk_play_names"),
        sqlite_with_rowid=False,
        **MYSQL,
    )
    op.create_table(
        "play_track_months",
        sa.Column("user_id", sa.String(ID), nullable=False),
        sa.Column("month", sa.Integer(), nullable=False),
        sa.Column("track_id", sa.String(ID), nullable=False),
        *_sums(),
        sa.PrimaryKeyConstraint("user_id", "month", "track_id", name="pk_play_track_months"),
        sqlite_with_rowid=False,
        **MYSQL,
    )
    from spotify_pipeline.warehouse.rollups import refresh_all

    refresh_all(op.get_bind(), names=False)  # play_names: 0008 (its columns are not there yet)


def downgrade() -> None:
    for table in ("play_track_months", "play_names", "play_tracks", "play_hours"):
        op.drop_table(table)
