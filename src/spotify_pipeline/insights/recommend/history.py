"""The user's plays before a moment, as the recommenders read them, with one identity per track.

A track's identity is its Spotify id; a play without one (account-data exports carry only names)
takes the id of any play with the same normalised artist and track name, and otherwise the names
themselves (``name:<artist>|<track>``). So every list works on export-only histories too.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import itemgetter
from typing import NamedTuple, cast

from sqlalchemy import select
from sqlalchemy.engine import Connection

from ...exports.matching import name_key, normalise_name
from ...warehouse import schema as s

FULL_PLAY_MS = 60_000  # a play this long, or ended by the track itself, counts as finished


class Play(NamedTuple):
    """One play (a named tuple: a history holds one per play, millions for a long one)."""

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


#: A play as read: played_at, track_id, track_name, artist_name, ms_played, skipped, reason_end.
PlayRow = tuple[datetime, str | None, str | None, str | None, int | None, bool | None, str | None]
_FIELDS = ("played_at", "track_id", "track_name", "artist_name", "ms_played", "skipped", "reason_end")


def load_history(conn: Connection, user_id: str, before: datetime | None) -> History:
    p = s.plays
    query = select(*(p.c[name] for name in _FIELDS)).where(p.c.user_id == user_id)
    if before is not None:
        query = query.where(p.c.played_at < before)
    rows = conn.execute(query.order_by(p.c.played_at)).all()  # rows unpack as tuples
    return history_of(cast(Sequence[PlayRow], rows))  # already in time order


def build_history(rows: Iterable[object]) -> History:
    """The history of rows with the play columns as attributes, in any order."""
    raw: list[PlayRow] = [tuple(getattr(r, name, None) for name in _FIELDS) for r in rows]  # type: ignore[misc]
    raw.sort(key=itemgetter(0))  # sessions need time order
    return history_of(raw)


def history_of(rows: Sequence[PlayRow]) -> History:
    """The history of play rows in time order. Each distinct (track id, track name, artist name)
    is resolved once, not once per play: a long history repeats the same few thousand."""
    by_names: dict[tuple[str, str], str] = {}
    distinct = dict.fromkeys(
        (track_id, track_name, artist_name) for _, track_id, track_name, artist_name, *_ in rows
    )
    for track_id, track_name, artist_name in distinct:
        if track_id:
            by_names.setdefault(name_key(artist_name, track_name), track_id)
    items: dict[str, Item] = {}
    resolved: dict[tuple[str | None, str | None, str | None], tuple[str | None, str]] = {}
    for triple in distinct:  # in order of first play, as the items were first met
        row_track_id, track_name, artist_name = triple
        key_names = name_key(artist_name, track_name)
        track_id = row_track_id or by_names.get(key_names)
        key: str | None = None
        if track_id:
            key = track_id
        elif key_names[1]:
            key = f"name:{key_names[0]}|{key_names[1]}"
        if key is not None:
            known = items.get(key)
            if known is None or (known.track_name is None and track_name):
                items[key] = Item(key, track_id, track_name, artist_name)
        resolved[triple] = (key, normalise_name(artist_name))
    plays: list[Play] = []
    append = plays.append
    for at, track_id, track_name, artist_name, ms, skipped, reason in rows:
        key, artist = resolved[track_id, track_name, artist_name]
        if key is not None:  # neither id nor name: nothing to recommend it by
            append(Play(at, key, artist, _liked(ms, skipped, reason)))
    return History(plays, items)


def _liked(ms: int | None, skipped: bool | None, reason: str | None) -> float:
    if skipped or reason in ("fwdbtn", "backbtn"):
        return 0.25
    if reason == "trackdone" or ms is None or ms >= FULL_PLAY_MS:
        return 1.0
    return 0.5
