"""Names as long text, milliseconds and follower counts as BIGINT: one bad value never blocks a load,
and both engines store the same values.

* Names and labels were VARCHAR(1024): Spotify sets no limit, and one longer name (a classical
  work's full title) stopped ``process`` at that object on every run. They become TEXT on SQLite
  and MEDIUMTEXT on MySQL (TEXT holds only 64 KiB there); ``artists.genres`` (a JSON list) too.
* ``plays.ms_played``, ``tracks.duration_ms``, ``audio_features.duration_ms`` and
  ``artists.followers`` were INTEGER: MariaDB clamped 3,000,000,000 to 2,147,483,647 (``INSERT
  IGNORE`` turns the range error into a warning) while SQLite kept it. They become BIGINT.

Only types widen: every stored value fits the new column as it is. SQLite rewrites each table
(batch mode); MySQL alters the columns in place.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

NAME = 1024  # the VARCHAR length 0001 gave names


def _long_text() -> sa.types.TypeEngine[Any]:
    return sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")


# table -> (column, type before, type after, nullable)
_TEXT: dict[str, list[tuple[str, sa.types.TypeEngine[Any], bool]]] = {
    "plays": [("track_name", sa.String(NAME), True), ("artist_name", sa.String(NAME), True),
              ("album_name", sa.String(NAME), True)],
    "tracks": [("name", sa.String(NAME), False)],
    "albums": [("name", sa.String(NAME), False), ("label", sa.String(NAME), True)],
    "artists": [("name", sa.String(NAME), False), ("genres", sa.Text(), True)],
}  # fmt: skip
_BIG: dict[str, list[str]] = {
    "plays": ["ms_played"],
    "tracks": ["duration_ms"],
    "artists": ["followers"],
    "audio_features": ["duration_ms"],
}


def upgrade() -> None:
    for table in ("plays", "tracks", "albums", "artists", "audio_features"):
        with op.batch_alter_table(table) as batch:
            for name, before, nullable in _TEXT.get(table, []):
                batch.alter_column(name, type_=_long_text(), existing_type=before, existing_nullable=nullable)
            for name in _BIG.get(table, []):
                batch.alter_column(
                    name, type_=sa.BigInteger(), existing_type=sa.Integer(), existing_nullable=True
                )


def downgrade() -> None:
    # Narrows again: a value that no longer fits makes the downgrade fail rather than truncate.
    for table in ("plays", "tracks", "albums", "artists", "audio_features"):
        with op.batch_alter_table(table) as batch:
            for name, before, nullable in _TEXT.get(table, []):
                batch.alter_column(name, type_=before, existing_type=_long_text(), existing_nullable=nullable)
            for name in _BIG.get(table, []):
                batch.alter_column(
                    name, type_=sa.Integer(), existing_type=sa.BigInteger(), existing_nullable=True
                )
