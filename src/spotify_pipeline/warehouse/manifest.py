"""The manifest of raw objects (``landed_files``): which object, at which etag, is loaded or
quarantined. Each function takes an open connection: the caller owns the transaction (the entry
commits with the rows of its object)."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from . import schema as s
from .upsert import check_rows, upsert


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def manifest_entry(conn: Connection, key: str) -> dict[str, Any] | None:
    """The manifest row of a raw object (status loaded/quarantined, etag, ...), None if never seen."""
    row = conn.execute(select(s.landed_files).where(s.landed_files.c.key_sha256 == key_hash(key))).first()
    return dict(row._mapping) if row else None


def manifest_entries(conn: Connection, kind: str | None = None) -> dict[str, dict[str, Any]]:
    """Every manifest row by key (optionally one kind): one query to diff a raw-zone listing against."""
    query = select(s.landed_files)
    if kind is not None:
        query = query.where(s.landed_files.c.kind == kind)
    return {row.key: dict(row._mapping) for row in conn.execute(query)}


def mark_loaded(
    conn: Connection,
    key: str,
    *,
    kind: str,
    user_id: str | None,
    etag: str | None,
    size: int | None,
    rows: int,
    loaded_at: datetime,
) -> None:
    """Record that ``key`` (at ``etag``) is loaded. A later version of the object (an hour's file
    merged again) is recorded over the earlier one."""
    _write(conn, [_values(key, kind, user_id, etag, size, "loaded", None, rows, loaded_at)])


def loaded_entry(
    key: str,
    *,
    kind: str,
    user_id: str | None,
    etag: str | None,
    size: int | None,
    rows: int,
    loaded_at: datetime,
) -> dict[str, Any]:
    """The manifest row ``mark_loaded`` writes, checked against the table's columns (RowRejected
    when a value does not fit), for ``mark_loaded_many`` to write later in the same transaction."""
    values = _values(key, kind, user_id, etag, size, "loaded", None, rows, loaded_at)
    check_rows(s.landed_files, [values])
    return values


def mark_loaded_many(conn: Connection, entries: list[dict[str, Any]]) -> None:
    """Write ``loaded_entry`` rows: one statement for a batch of objects instead of one each."""
    if entries:
        _write(conn, entries)


def mark_quarantined(
    conn: Connection,
    key: str,
    *,
    kind: str,
    user_id: str | None,
    etag: str | None,
    reason: str,
    size: int | None = None,
    loaded_at: datetime,
) -> None:
    """Record that ``key`` is malformed, with the reason; it is not retried until its etag changes."""
    _write(conn, [_values(key, kind, user_id, etag, size, "quarantined", reason, None, loaded_at)])


def _write(conn: Connection, rows: list[dict[str, Any]]) -> None:
    upsert(conn, s.landed_files, rows, ["key_sha256"], [c for c in rows[0] if c != "key_sha256"])


def _values(
    key: str,
    kind: str,
    user_id: str | None,
    etag: str | None,
    size: int | None,
    status: str,
    reason: str | None,
    rows: int | None,
    at: datetime,
) -> dict[str, Any]:
    return {
        "key_sha256": key_hash(key),
        "key": key,
        "kind": kind,
        "user_id": user_id,
        "etag": etag,
        "size": size,
        "status": status,
        "reason": reason,
        "rows_inserted": rows,
        "loaded_at": at,
    }
