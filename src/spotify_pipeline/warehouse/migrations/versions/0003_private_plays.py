"""private_plays: a fingerprint of each private-session play an extended import skipped.

Account data (``StreamingHistory_music_N.json``) has no private-session flag, so its rows of
private plays look like any other play. When the extended package was imported in an earlier run,
the import now recognises them from what that run remembered here: the user, the play's end (the
extended ``ts``, to the second) and a SHA-256 of the normalised artist and track names. The names
themselves are not stored: the user asked Spotify not to record these plays, and the table only has
to answer "is this account row one of them". No IP address or user agent either.

The table starts empty: private plays were never stored before, and the imports that saw them are
replayed by ``rebuild`` (which refills it), not re-read here.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

MYSQL: dict[str, Any] = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}
ID = 64


def _ts() -> sa.types.TypeEngine[Any]:
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=3), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "private_plays",
        sa.Column("user_id", sa.String(ID), nullable=False),
        sa.Column("ended_at", _ts(), nullable=False),
        sa.Column("names_sha256", sa.String(64), nullable=False),
        sa.Column("import_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "ended_at", "names_sha256", name="pk_private_plays"),
        **MYSQL,
    )


def downgrade() -> None:
    op.drop_table("private_plays")
