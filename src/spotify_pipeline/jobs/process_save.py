"""Saving one object's rows by kind, inside the caller's transaction: plays, followed-artist
snapshots, release checks and catalog lookups, each counted in the caller's report."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..transform.raw_object import Lookup, ObjectRows, object_rows
from ..transform.rows import AlbumRow, ArtistRow, AudioFeaturesRow
from ..warehouse import writes
from ..warehouse.memo import WriteMemo
from ..warehouse.releases import save_release_checks
from .report import JobReport


def load_object(
    conn: Any,
    kind: str,
    envelope: dict[str, Any],
    user: str,
    key: str,
    now: datetime,
    report: JobReport,
    memo: WriteMemo | None = None,
) -> int:
    """Load one parsed object inside the caller's transaction (``enrich`` loads what it landed so)."""
    return save_rows(conn, kind, object_rows(kind, envelope, user, key, now), user, now, report, memo)


def save_rows(
    conn: Any,
    kind: str,
    rows: ObjectRows,
    user: str,
    now: datetime,
    report: JobReport,
    memo: WriteMemo | None,
) -> int:
    report.problems.extend(rows.problems)
    if kind == "recently_played":
        inserted = sum(
            writes.save_recently_played(conn, page, loaded_at=now, memo=memo) for page in rows.pages
        )
        report.add("plays_inserted", inserted)
        return inserted
    if kind == "following_artists":
        folded = 0
        for snapshot in rows.snapshots:
            # The page holds full artist objects.
            writes.save_artists_full(conn, snapshot.artists, fetched_at=snapshot.seen_at, memo=memo)
            ids = {a.id for a in snapshot.artists}
            new, gone = writes.fold_followed_snapshot(conn, user, ids, snapshot.seen_at, memo=memo)
            report.add("follows_opened", new)
            report.add("follows_closed", gone)
            folded += len(snapshot.artists)
        return folded
    if kind == "artist_albums":
        saved = save_release_checks(conn, user, rows.release_checks, memo, at=now)
        report.add("releases_seen", saved)
        return saved
    saved = sum(_save_lookup(conn, lookup, memo) for lookup in rows.lookups)
    report.add("metadata_rows", saved)
    return saved


def _save_lookup(conn: Any, lookup: Lookup, memo: WriteMemo | None) -> int:
    rows, at = lookup.rows, lookup.at
    if rows is None:
        writes.record_miss(conn, lookup.miss_kind, lookup.ident, status="404", attempted_at=at)
        return 0
    if isinstance(rows, ArtistRow):
        writes.save_artists_full(conn, [rows], fetched_at=at, memo=memo)
    elif isinstance(rows, AlbumRow):
        writes.save_albums_full(conn, [rows], fetched_at=at, memo=memo)
    elif isinstance(rows, AudioFeaturesRow):
        writes.save_audio_features(conn, [rows], fetched_at=at)
    else:
        writes.save_tracks_full(conn, rows, seen_at=at, memo=memo)
    return 1
