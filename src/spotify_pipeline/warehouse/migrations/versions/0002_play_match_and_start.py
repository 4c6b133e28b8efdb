"""plays.matched_import_id and plays.started_at: say which import matched an API play, and when a
play started, instead of inferring both.

* ``matched_import_id``: on an API play, the import run whose export record was matched to it (and
  enriched it). Coverage used to infer "matched" from ``ms_played`` being set (the API never gives
  one); that breaks the day anything else sets it.
* ``started_at``: the start of the stream, from an extended record (``offline_timestamp``, or
  ``ts - ms_played``). NULL where no extended record described the play: API-only plays and export
  rows from account data, whose time is only the minute of ``endTime``. The import relies on that to
  recognise account-data rows of an earlier run when the extended package arrives later.

Existing rows are backfilled from what 0001 stored: an API play with ``ms_played`` was matched by an
import (the latest finished one of its user is named); a row carrying any extended-only column
(reason, platform, country, flags) came from an extended record, so its start is ``played_at -
ms_played``. Account-data rows carry none of them and stay NULL, as new ones will.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

BACKFILL_BATCH = 5_000
_EXTENDED_ONLY = (
    "reason_start", "reason_end", "platform", "country", "shuffle", "skipped", "offline", "incognito",
)  # fmt: skip


def _ts() -> sa.types.TypeEngine[datetime]:
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=3), "mysql", "mariadb")


# The shape this revision sees (not schema.py, which moves on).
_plays = sa.table(
    "plays",
    sa.column("user_id", sa.String()),
    sa.column("played_at", _ts()),
    sa.column("source", sa.String()),
    sa.column("ms_played", sa.Integer()),
    sa.column("matched_import_id", sa.Integer()),
    sa.column("started_at", _ts()),
    *(sa.column(name) for name in _EXTENDED_ONLY),
)
_runs = sa.table(
    "import_runs",
    sa.column("id", sa.Integer()),
    sa.column("user_id", sa.String()),
    sa.column("status", sa.String()),
)


def upgrade() -> None:
    with op.batch_alter_table("plays") as batch:
        batch.add_column(sa.Column("matched_import_id", sa.Integer()))
        batch.add_column(sa.Column("started_at", _ts()))
    conn = op.get_bind()
    latest_run = (
        sa.select(sa.func.max(_runs.c.id))
        .where(_runs.c.user_id == _plays.c.user_id, _runs.c.status.in_(("ok", "partial")))
        .scalar_subquery()
    )
    conn.execute(
        sa.update(_plays)
        .where(_plays.c.source == "api", _plays.c.ms_played.is_not(None))
        .values(matched_import_id=latest_run)
    )
    _backfill_started_at(conn)


def _backfill_started_at(conn: sa.Connection) -> None:
    described = sa.or_(*(_plays.c[name].is_not(None) for name in _EXTENDED_ONLY))
    query = (
        sa.select(_plays.c.user_id, _plays.c.played_at, _plays.c.ms_played)
        .where(described, _plays.c.ms_played.is_not(None), _plays.c.started_at.is_(None))
        .order_by(_plays.c.user_id, _plays.c.played_at)
    )
    update = (
        sa.update(_plays)
        .where(_plays.c.user_id == sa.bindparam("b_user"), _plays.c.played_at == sa.bindparam("b_at"))
        .values(started_at=sa.bindparam("b_start"))
    )
    rows = [
        {"b_user": user, "b_at": at, "b_start": _ms(at - timedelta(milliseconds=ms))}
        for user, at, ms in conn.execute(query)
    ]
    for i in range(0, len(rows), BACKFILL_BATCH):
        conn.execute(update, rows[i : i + BACKFILL_BATCH])


def _ms(value: datetime) -> datetime:
    # DATETIME(3) keeps milliseconds; SQLite would keep microseconds. Store the same on both.
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def downgrade() -> None:
    with op.batch_alter_table("plays") as batch:
        batch.drop_column("started_at")
        batch.drop_column("matched_import_id")
