"""The user's plays before a moment, as the recommenders read them, with one identity per track.

A track's identity is its Spotify id; a play without one (account-data exports carry only names)
takes the id of any play with the same normalised artist and track name, and otherwise the names
themselves (``name:<artist>|<track>``). So every list works on export-only histories too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.engine import Connection

from ...exports.matching import name_key, normalise_name
from ...warehouse import schema as s

FULL_PLAY_MS = 60_000  # a play this long, or ended by the track itself, counts as finished


@dataclass(frozen=True, slots=True)
class Play:
    at: datetime
    item: str  # the track's identity
    artist: str  # normalised artist name ("" when unknown)
    liked: float  # 1 for a finished play, 0.25 for a skip


@dataclass(frozen=True, slots=True)
class Item:
    key: str
    track_id: str | None
    track_name: str | None
    artist_name: str | None


@dataclass
class History:
    plays: list[Play]  # oldest first
    items: dict[str, Item]

    def played_between(self, start: datetime, end: datetime) -> set[str]:
        return {p.item for p in self.plays if start <= p.at < end}


def load_history(conn: Connection, user_id: str, before: datetime | None) -> History:
    p = s.plays
    query = select(
        p.c.played_at,
        p.c.track_id,
        p.c.track_name,
        p.c.artist_name,
        p.c.ms_played,
        p.c.skipped,
        p.c.reason_end,
    ).where(p.c.user_id == user_id)
    if before is not None:
        query = query.where(p.c.played_at < before)
    return build_history(conn.execute(query.order_by(p.c.played_at)))


def build_history(rows: Iterable[object]) -> History:
    raw = sorted(rows, key=lambda r: getattr(r, "played_at"))  # noqa: B009 - sessions need time order
    by_names: dict[tuple[str, str], str] = {}
    for r in raw:
        track_id = getattr(r, "track_id", None)
        if track_id:
            by_names.setdefault(
                name_key(getattr(r, "artist_name", None), getattr(r, "track_name", None)), track_id
            )
    plays: list[Play] = []
    items: dict[str, Item] = {}
    for r in raw:
        artist_name, track_name = getattr(r, "artist_name", None), getattr(r, "track_name", None)
        names = name_key(artist_name, track_name)
        track_id = getattr(r, "track_id", None) or by_names.get(names)
        if track_id:
            key = track_id
        elif names[1]:
            key = f"name:{names[0]}|{names[1]}"
        else:
            continue  # neither id nor name: nothing to recommend it by
        if key not in items or (items[key].track_name is None and track_name):
            items[key] = Item(key, track_id, track_name, artist_name)
        plays.append(Play(getattr(r, "played_at"), key, normalise_name(artist_name), _liked(r)))  # noqa: B009
    return History(plays, items)


def _liked(row: object) -> float:
    skipped = getattr(row, "skipped", None)
    reason = getattr(row, "reason_end", None)
    ms = getattr(row, "ms_played", None)
    if skipped or reason in ("fwdbtn", "backbtn"):
        return 0.25
    if reason == "trackdone" or ms is None or ms >= FULL_PLAY_MS:
        return 1.0
    return 0.5
