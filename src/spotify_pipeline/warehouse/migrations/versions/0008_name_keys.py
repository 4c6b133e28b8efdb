"""The normalised name keys of ``play_names`` and an index of first plays (``warehouse/rollups.py``).

* ``play_names.track_key``, ``artist_key``, ``album_key``: SHA-256 digests of the keys the read side
  groups plays without an id by (normalised artist + track, artist, artist + album), computed in
  Python when the row is written, so name groups are grouped, ranked and counted in SQL.
* ``ix_play_tracks_user_id_first_played_at``, ``ix_play_names_user_id_first_played_at``: the tracks
  and the names first played in a period (discoveries).

Backfilled here: every ``play_names`` row is recomputed with its keys (0007 leaves that table to
this revision). Downgrade drops the columns and the indexes.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for name in ("track_key", "artist_key", "album_key"):
        op.add_column("play_names", sa.Column(name, sa.String(64)))
    op.create_index("ix_play_tracks_user_id_first_played_at", "play_tracks", ["user_id", "first_played_at"])
    op.create_index("ix_play_names_user_id_first_played_at", "play_names", ["user_id", "first_played_at"])
    from spotify_pipeline.warehouse.rollups import refresh_names

    refresh_names(op.get_bind())


def downgrade() -> None:
    op.drop_index("ix_play_names_user_id_first_played_at", table_name="play_names")
    op.drop_index("ix_play_tracks_user_id_first_played_at", table_name="play_tracks")
    for name in ("album_key", "artist_key", "track_key"):
        op.drop_column("play_names", name)
