"""The initial warehouse: plays, catalog, followed-artist history, manifest, gaps, runs, state.

Written out table by table (not ``metadata.create_all``) so this revision keeps creating the
same schema after schema.py moves on; tests compare the result with schema.py on SQLite and
MariaDB.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# utf8mb4 with the binary collation: Spotify ids are case-sensitive.
MYSQL: dict[str, Any] = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}
ID, NAME, URI, KEY = 64, 1024, 255, 1024


def _ts() -> sa.types.TypeEngine[Any]:
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=3), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.String(ID), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        **MYSQL,
    )
    op.create_table(
        "plays",
        sa.Column("user_id", sa.String(ID), nullable=False),
        sa.Column("played_at", _ts(), nullable=False),
        sa.Column("track_id", sa.String(ID)),
        sa.Column("track_name", sa.String(NAME)),
        sa.Column("artist_name", sa.String(NAME)),
        sa.Column("album_name", sa.String(NAME)),
        sa.Column("context_type", sa.String(32)),
        sa.Column("context_uri", sa.String(URI)),
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column("ms_played", sa.Integer()),
        sa.Column("reason_start", sa.String(64)),
        sa.Column("reason_end", sa.String(64)),
        sa.Column("shuffle", sa.Boolean()),
        sa.Column("skipped", sa.Boolean()),
        sa.Column("offline", sa.Boolean()),
        sa.Column("incognito", sa.Boolean()),
        sa.Column("platform", sa.String(URI)),
        sa.Column("country", sa.String(8)),
        sa.Column("raw_key", sa.String(KEY)),
        sa.Column("import_id", sa.Integer()),
        sa.Column("loaded_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "played_at", name="pk_plays"),
        **MYSQL,
    )
    op.create_index("ix_plays_track_id", "plays", ["track_id"])
    op.create_table(
        "tracks",
        sa.Column("id", sa.String(ID), nullable=False),
        sa.Column("name", sa.String(NAME), nullable=False),
        sa.Column("album_id", sa.String(ID)),
        sa.Column("duration_ms", sa.Integer()),
        sa.Column("explicit", sa.Boolean()),
        sa.Column("isrc", sa.String(32)),
        sa.Column("track_number", sa.Integer()),
        sa.Column("disc_number", sa.Integer()),
        sa.Column("popularity", sa.Integer()),
        sa.Column("uri", sa.String(URI)),
        sa.Column("first_seen_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tracks"),
        **MYSQL,
    )
    op.create_index("ix_tracks_isrc", "tracks", ["isrc"])
    op.create_index("ix_tracks_album_id", "tracks", ["album_id"])
    op.create_table(
        "albums",
        sa.Column("id", sa.String(ID), nullable=False),
        sa.Column("name", sa.String(NAME), nullable=False),
        sa.Column("album_type", sa.String(32)),
        sa.Column("release_date", sa.String(10)),
        sa.Column("release_date_precision", sa.String(8)),
        sa.Column("total_tracks", sa.Integer()),
        sa.Column("label", sa.String(NAME)),
        sa.Column("popularity", sa.Integer()),
        sa.Column("uri", sa.String(URI)),
        sa.Column("fetched_at", _ts()),
        sa.PrimaryKeyConstraint("id", name="pk_albums"),
        **MYSQL,
    )
    op.create_table(
        "artists",
        sa.Column("id", sa.String(ID), nullable=False),
        sa.Column("name", sa.String(NAME), nullable=False),
        sa.Column("genres", sa.Text()),
        sa.Column("popularity", sa.Integer()),
        sa.Column("followers", sa.Integer()),
        sa.Column("uri", sa.String(URI)),
        sa.Column("fetched_at", _ts()),
        sa.PrimaryKeyConstraint("id", name="pk_artists"),
        **MYSQL,
    )
    for owner in ("track", "album"):
        table = f"{owner}_artists"
        op.create_table(
            table,
            sa.Column(f"{owner}_id", sa.String(ID), nullable=False),
            sa.Column("position", sa.Integer(), nullable=False),
            sa.Column("artist_id", sa.String(ID), nullable=False),
            sa.PrimaryKeyConstraint(f"{owner}_id", "position", name=f"pk_{table}"),
            **MYSQL,
        )
        op.create_index(f"ix_{table}_artist_id", table, ["artist_id"])
    op.create_table(
        "audio_features",
        sa.Column("track_id", sa.String(ID), nullable=False),
        *(
            sa.Column(name, sa.Double())
            for name in (
                "danceability",
                "energy",
                "loudness",
                "speechiness",
                "acousticness",
                "instrumentalness",
                "liveness",
                "valence",
                "tempo",
            )
        ),  # fmt: skip
        *(sa.Column(name, sa.Integer()) for name in ("key", "mode", "time_signature", "duration_ms")),
        sa.Column("fetched_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("track_id", name="pk_audio_features"),
        **MYSQL,
    )
    op.create_table(
        "metadata_misses",
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("id", sa.String(ID), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("attempted_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "id", name="pk_metadata_misses"),
        **MYSQL,
    )
    op.create_table(
        "followed_artists",
        sa.Column("user_id", sa.String(ID), nullable=False),
        sa.Column("artist_id", sa.String(ID), nullable=False),
        sa.Column("first_seen", _ts(), nullable=False),
        sa.Column("last_seen", _ts(), nullable=False),
        sa.Column("unfollowed_at", _ts()),
        sa.PrimaryKeyConstraint("user_id", "artist_id", "first_seen", name="pk_followed_artists"),
        **MYSQL,
    )
    op.create_table(
        "landed_files",
        sa.Column("key_sha256", sa.String(64), nullable=False),
        sa.Column("key", sa.String(KEY), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(ID)),
        sa.Column("etag", sa.String(255)),
        sa.Column("size", sa.BigInteger()),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text()),
        sa.Column("rows_inserted", sa.Integer()),
        sa.Column("loaded_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("key_sha256", name="pk_landed_files"),
        **MYSQL,
    )
    op.create_table(
        "gaps",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.String(ID), nullable=False),
        sa.Column("gap_from", _ts(), nullable=False),
        sa.Column("gap_to", _ts(), nullable=False),
        sa.Column("detected_at", _ts(), nullable=False),
        sa.Column("raw_key", sa.String(KEY)),
        sa.Column("closed_at", _ts()),
        sa.Column("closed_by", sa.String(URI)),
        sa.PrimaryKeyConstraint("id", name="pk_gaps"),
        sa.UniqueConstraint("user_id", "gap_from", "gap_to", name="uq_gaps_user_id_gap_from_gap_to"),
        **MYSQL,
    )
    op.create_table(
        "fetch_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.String(ID), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("started_at", _ts(), nullable=False),
        sa.Column("finished_at", _ts()),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("api_calls", sa.Integer()),
        sa.Column("items", sa.Integer()),
        sa.Column("raw_key", sa.String(KEY)),
        sa.Column("message", sa.Text()),
        sa.PrimaryKeyConstraint("id", name="pk_fetch_runs"),
        **MYSQL,
    )
    op.create_index("ix_fetch_runs_user_id_kind_started_at", "fetch_runs", ["user_id", "kind", "started_at"])
    op.create_table(
        "import_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.String(ID), nullable=False),
        sa.Column("source", sa.String(KEY), nullable=False),
        sa.Column("started_at", _ts(), nullable=False),
        sa.Column("finished_at", _ts()),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("report", sa.Text()),
        sa.PrimaryKeyConstraint("id", name="pk_import_runs"),
        **MYSQL,
    )
    op.create_table(
        "app_state",
        sa.Column("key", sa.String(191), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_app_state"),
        **MYSQL,
    )


def downgrade() -> None:
    for table in (
        "app_state", "import_runs", "fetch_runs", "gaps", "landed_files", "followed_artists",
        "metadata_misses", "audio_features", "album_artists", "track_artists", "artists", "albums",
        "tracks", "plays", "users",
    ):  # fmt: skip
        op.drop_table(table)
