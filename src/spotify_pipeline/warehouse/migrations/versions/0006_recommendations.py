"""Recommendations: release checks, releases, and the playlists written back to Spotify.

* ``release_checks``: per user and artist, the first and last artist-albums check (the release job
  checks an artist at most once a week).
* ``releases``: every album or single such a check listed, with when it was first seen.
* ``recommendation_playlists``: the private playlist kept for each recommendation list.

The first two are rebuilt from the ``artist_albums/`` raw objects; the playlist ids live only here.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

MYSQL: dict[str, Any] = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}
ID = 64


def _ts() -> sa.types.TypeEngine[Any]:
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=3), "mysql", "mariadb")


def _long_text() -> sa.types.TypeEngine[Any]:
    return sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "release_checks",
        sa.Column("user_id", sa.String(ID), nullable=False),
        sa.Column("artist_id", sa.String(ID), nullable=False),
        sa.Column("first_checked_at", _ts(), nullable=False),
        sa.Column("last_checked_at", _ts(), nullable=False),
        sa.Column("last_status", sa.Integer()),
        sa.PrimaryKeyConstraint("user_id", "artist_id", name="pk_release_checks"),
        **MYSQL,
    )
    op.create_table(
        "releases",
        sa.Column("user_id", sa.String(ID), nullable=False),
        sa.Column("album_id", sa.String(ID), nullable=False),
        sa.Column("artist_id", sa.String(ID), nullable=False),
        sa.Column("name", _long_text(), nullable=False),
        sa.Column("album_type", sa.String(32)),
        sa.Column("release_date", sa.String(10)),
        sa.Column("release_date_precision", sa.String(8)),
        sa.Column("total_tracks", sa.Integer()),
        sa.Column("first_seen_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "album_id", name="pk_releases"),
        **MYSQL,
    )
    op.create_index("ix_releases_user_id_first_seen_at", "releases", ["user_id", "first_seen_at"])
    op.create_table(
        "recommendation_playlists",
        sa.Column("user_id", sa.String(ID), nullable=False),
        sa.Column("list_kind", sa.String(32), nullable=False),
        sa.Column("name", _long_text(), nullable=False),
        sa.Column("playlist_id", sa.String(ID), nullable=False),
        sa.Column("snapshot_id", sa.String(255)),
        sa.Column("track_count", sa.Integer(), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("updated_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "list_kind", name="pk_recommendation_playlists"),
        **MYSQL,
    )


def downgrade() -> None:
    op.drop_table("recommendation_playlists")
    op.drop_index("ix_releases_user_id_first_seen_at", table_name="releases")
    op.drop_table("releases")
    op.drop_table("release_checks")
