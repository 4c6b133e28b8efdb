"""Where an export record's row goes, and whether it is already there (pure: no I/O).

A record's row has ``played_at`` = its end time, pushed by 1 ms past rows of other plays that end
in the same second (minute), at most ``MAX_COLLISIONS`` times: deterministic for the same export,
so a re-run finds its own rows (``own_row``) instead of adding them again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from ..exports.formats import ExportRecord
from ..exports.matching import Candidate, name_key
from ..warehouse.export_plays import ENRICH_COLUMNS

# Records further apart than this are fetched by separate range queries (an unordered endsong file
# would otherwise fetch years of plays for every batch).
CLUSTER_SPLIT = timedelta(hours=6)
# How many same-millisecond neighbours a played_at may be pushed by before we give up (two distinct
# plays ending in the same second are already rare; ten is a broken export).
MAX_COLLISIONS = 10
STEPS = tuple(timedelta(milliseconds=ms) for ms in range(MAX_COLLISIONS))


def identity(rec: ExportRecord) -> tuple[Any, ...]:
    """What makes two records the same stream. Extended: end second + track (no one plays two
    streams of one track ending in the same second). Account (minute precision): + ms played."""
    if rec.format.is_account:
        return ("a", rec.ended_at, name_key(rec.artist_name, rec.track_name), rec.ms_played)
    return ("e", rec.ended_at, rec.track_id or name_key(rec.artist_name, rec.track_name))


def names_digest(rec: ExportRecord) -> str | None:
    """SHA-256 of the record's normalised artist + track names (``name_key``, as account rows are
    matched by): what ``private_plays`` keeps of a private play instead of its names. None when the
    record has no track name (no account-data row could be recognised by it)."""
    artist, track = name_key(rec.artist_name, rec.track_name)
    if not track:
        return None
    return hashlib.sha256(f"{artist}\x1f{track}".encode()).hexdigest()


def is_own(rec: ExportRecord, row: Candidate) -> bool:
    """Whether ``row`` is the row an earlier import stored for this very record: an export row of
    the same precision (account rows have the minute, extended rows the second) and the same play."""
    return row.source == "export" and row.minute_precision == rec.format.is_account and same_play(rec, row)


def same_play(rec: ExportRecord, row: Candidate) -> bool:
    if rec.track_id is not None and row.track_id is not None and not rec.format.is_account:
        return rec.track_id == row.track_id
    return name_key(rec.artist_name, rec.track_name) == name_key(row.artist_name, row.track_name)


class PlaysByTime(dict[datetime, Candidate]):
    """The warehouse plays around a cluster by played_at, and the whole seconds they fall in: a
    record whose second holds none has no row of its own there (one set lookup, not ten)."""

    def __init__(self, plays: Mapping[datetime, Candidate]) -> None:
        super().__init__(plays)
        self.seconds = {at.replace(microsecond=0) for at in plays}


def own_row(
    rec: ExportRecord, by_time: Mapping[datetime, Candidate], taken: set[datetime], taken_too: set[datetime]
) -> datetime | None:
    """The played_at of this record's own row from an earlier run, if any (not one this run gave)."""
    # A record ends on a whole second (or minute), so its ten 1-ms slots lie inside that second.
    if (
        isinstance(by_time, PlaysByTime)
        and rec.ended_at.microsecond == 0
        and rec.ended_at not in by_time.seconds
    ):
        return None
    for step in STEPS:
        at = rec.ended_at + step
        row = by_time.get(at)
        if row is not None and at not in taken and at not in taken_too and is_own(rec, row):
            return at
    return None


def enrichment(
    rec: ExportRecord, played_at: datetime, account: bool, import_id: int | None
) -> dict[str, Any]:
    """What a record adds to the API play it matched (``export_plays.enrich_api_plays``)."""
    if account:
        return {"b_played_at": played_at, "b_ms_played": rec.ms_played, "b_matched_import_id": import_id}
    values = {"b_" + c: getattr(rec, c) for c in ENRICH_COLUMNS}
    values.update(b_played_at=played_at, b_started_at=rec.started_at, b_matched_import_id=import_id)
    return values


def clusters(records: list[ExportRecord]) -> Iterable[list[ExportRecord]]:
    """Time-ordered ``records`` cut where two neighbours are over ``CLUSTER_SPLIT`` apart."""
    start = 0
    for i in range(1, len(records) + 1):
        if i == len(records) or records[i].ended_at - records[i - 1].ended_at > CLUSTER_SPLIT:
            yield records[start:i]
            start = i
