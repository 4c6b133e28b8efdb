"""Which export record is which warehouse play (pure: no I/O, no clock).

Two rules (docs/import-history.md, "Matching"):

* **By track id** (extended formats): the same track id and ``|ts - played_at| <= tolerance``.
* **By names** (account data: no id, minute precision): the same normalised artist and track name,
  and ``played_at`` within ``NAME_SLACK`` of the record's minute ``[endTime, endTime + 60 s)``.
* **Minute rows** (an extended record vs an account-data row an earlier import stored): the same
  track id or names, and the record's ``ts`` within ``NAME_SLACK`` of the row's minute.

Both are one-to-one: a play is claimed by at most one record and a record by at most one play, pairs
being taken closest first. So two real back-to-back plays of a short track, only one of which the API
saw, stay two plays: the second record finds its play already claimed.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from ..transform.names import name_key, normalise_name
from .formats import ExportRecord

K = TypeVar("K")
MINUTE = timedelta(minutes=1)
#: How far outside its minute an account-data play may have been logged by the API (clock skew
#: between the client that wrote endTime and the server that wrote played_at, and rounding vs
#: truncation of endTime, which Spotify does not document).
NAME_SLACK = timedelta(seconds=30)

__all__ = [
    "MINUTE",
    "NAME_SLACK",
    "Candidate",
    "Match",
    "match_by_names",
    "match_by_track_id",
    "match_minute_rows",
    "name_key",
    "normalise_name",
]


@dataclass(frozen=True, slots=True)
class Candidate:
    """A play already in the warehouse, as matching needs it."""

    played_at: datetime
    track_id: str | None
    track_name: str | None
    artist_name: str | None
    source: str  # "api" | "export"
    started_at: datetime | None = None  # set on rows an extended record described

    @property
    def minute_precision(self) -> bool:
        """An export row from account data: its played_at is only the minute of ``endTime``."""
        return self.source == "export" and self.started_at is None


@dataclass(frozen=True, slots=True)
class Match:
    record: int  # index into the records given
    play: Candidate
    offset_s: float  # record time - play time (seconds): ts - played_at, or minute start - played_at


def match_by_track_id(
    records: Sequence[ExportRecord],
    plays: Sequence[Candidate],
    tolerance: timedelta,
    claimed: Collection[datetime] = (),
) -> list[Match]:
    """One-to-one pairs (same track id, ``|ended_at - played_at| <= tolerance``), closest first.

    ``claimed`` holds the ``played_at`` of plays taken by earlier batches of the same import.
    """
    by_track: dict[str, list[Candidate]] = defaultdict(list)
    for play in plays:
        if play.track_id is not None and play.played_at not in claimed:
            by_track[play.track_id].append(play)
    times = _index(by_track)
    pairs: list[tuple[float, int, Candidate]] = []
    for i, rec in enumerate(records):
        if rec.track_id is None or rec.track_id not in by_track:
            continue
        lo, hi = rec.ended_at - tolerance, rec.ended_at + tolerance
        stamps, group = times[rec.track_id], by_track[rec.track_id]
        for j in range(bisect_left(stamps, lo), bisect_right(stamps, hi)):
            pairs.append(((rec.ended_at - group[j].played_at).total_seconds(), i, group[j]))
    return _assign(pairs)


def match_by_names(
    records: Sequence[ExportRecord],
    plays: Sequence[Candidate],
    claimed: Collection[datetime] = (),
    slack: timedelta = NAME_SLACK,
) -> list[Match]:
    """One-to-one pairs (same normalised artist + track, played_at within the record's minute
    widened by ``slack`` each side), closest to the middle of the minute first."""
    by_name: dict[tuple[str, str], list[Candidate]] = defaultdict(list)
    for play in plays:
        if play.played_at not in claimed:
            by_name[name_key(play.artist_name, play.track_name)].append(play)
    times = _index(by_name)
    pairs: list[tuple[float, int, Candidate]] = []
    for i, rec in enumerate(records):
        key = name_key(rec.artist_name, rec.track_name)
        if key not in by_name or not key[1]:
            continue
        lo, hi = rec.ended_at - slack, rec.ended_at + MINUTE + slack
        stamps, group = times[key], by_name[key]
        for j in range(bisect_left(stamps, lo), bisect_left(stamps, hi)):
            offset = (rec.ended_at - group[j].played_at).total_seconds()
            pairs.append((offset, i, group[j]))
    # Closest to the middle of the minute: an offset of -30 s is a perfect account-data match.
    return _assign(pairs, centre=-MINUTE.total_seconds() / 2)


def match_minute_rows(
    records: Sequence[ExportRecord],
    rows: Sequence[Candidate],
    slack: timedelta = NAME_SLACK,
) -> list[Match]:
    """One-to-one pairs of second-precision records (extended) and minute-precision rows (account
    data imported earlier): same track id or same normalised artist + track, and the record's end
    within the row's minute widened by ``slack``. The reverse of ``match_by_names``: here the
    warehouse side has the minute and the record the exact time. Offsets are ``ts - row minute``,
    closest to the middle of the minute first."""
    by_key: dict[tuple[str, ...], list[Candidate]] = defaultdict(list)
    for row in rows:
        if row.track_id is not None:
            by_key[("id", row.track_id)].append(row)
        artist, track = name_key(row.artist_name, row.track_name)
        if track:
            by_key[("name", artist, track)].append(row)
    times = _index(by_key)
    pairs: dict[tuple[int, datetime], tuple[float, int, Candidate]] = {}
    for i, rec in enumerate(records):
        artist, track = name_key(rec.artist_name, rec.track_name)
        keys: list[tuple[str, ...]] = [("name", artist, track)] if track else []
        if rec.track_id is not None:
            keys.append(("id", rec.track_id))
        for key in keys:
            if key not in by_key:
                continue
            # row.played_at in (ended_at - 60 s - slack, ended_at + slack]
            lo, hi = rec.ended_at - MINUTE - slack, rec.ended_at + slack
            stamps, group = times[key], by_key[key]
            for j in range(bisect_right(stamps, lo), bisect_right(stamps, hi)):
                offset = (rec.ended_at - group[j].played_at).total_seconds()
                pairs[(i, group[j].played_at)] = (offset, i, group[j])
    return _assign(list(pairs.values()), centre=MINUTE.total_seconds() / 2)


def _index(groups: dict[K, list[Candidate]]) -> dict[K, list[datetime]]:
    out: dict[K, list[datetime]] = {}
    for key, group in groups.items():
        group.sort(key=lambda p: p.played_at)
        out[key] = [p.played_at for p in group]
    return out


def _assign(pairs: list[tuple[float, int, Candidate]], centre: float = 0.0) -> list[Match]:
    # Greedy by distance is optimal enough here: competing pairs are the same track minutes apart,
    # and taking the closest first is what keeps back-to-back repeats apart. Ties break on record
    # order and then play time, so the result never depends on input order beyond that.
    pairs.sort(key=lambda p: (abs(p[0] - centre), p[1], p[2].played_at))
    taken_records: set[int] = set()
    taken_plays: set[datetime] = set()
    out: list[Match] = []
    for offset, i, play in pairs:
        if i in taken_records or play.played_at in taken_plays:
            continue
        taken_records.add(i)
        taken_plays.add(play.played_at)
        out.append(Match(i, play, offset))
    out.sort(key=lambda m: m.record)
    return out
