"""Top lists assembled in Python: tracks, artists and albums counted from grouped plays, the
database's candidates merged in, and the first n by plays and by minutes (``stats.Insights.top``)."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .queries import TrackGroup, TrackInfo
from .results import TopItem, TopList
from .rollup_queries import Candidate

Entry = tuple[str, str]  # (key, name)
# What a group not taking the short way counts as: (ms, track, its artist's name, artist, album).
Fallback = Callable[[TrackGroup], tuple[int, Entry, str | None, Entry | None, Entry | None]]


@dataclass
class Acc:
    name: str
    artist: str | None
    plays: int = 0
    ms: int = 0

    def item(self, key: str) -> TopItem:
        return TopItem(key, self.name, self.artist, self.plays, self.ms)


Tables = tuple[dict[str, Acc], dict[str, Acc], dict[str, Acc], int]  # tracks, artists, albums, ms


def _count(table: dict[str, Acc], entry: Entry, artist: str | None, plays: int, ms: int) -> None:
    acc = table.get(entry[0])
    if acc is None:
        acc = table[entry[0]] = Acc(entry[1], artist)
    acc.plays += plays
    acc.ms += ms


def count_groups(groups: Iterable[TrackGroup], catalogue: dict[str, TrackInfo], other: Fallback) -> Tables:
    """Tracks, artists and albums of ``groups`` with their plays and milliseconds, and the
    milliseconds of everything. A catalogued track with its primary artist and album takes the
    short way; every other group what ``other`` makes of it."""
    tracks: dict[str, Acc] = {}
    artists: dict[str, Acc] = {}
    albums: dict[str, Acc] = {}
    total = 0
    for g in groups:
        info = catalogue.get(g.track_id) if g.track_id else None
        if info is not None and info.artists and info.album_id:
            ms = g.ms_known + g.plays_without_ms * (info.duration_ms or 0)
            artist_entry: Entry | None = info.artists[0]
            artist: str | None = info.artists[0][1]
            track_entry = (g.track_id or "", info.name or g.track_id or "")
            album_entry: Entry | None = (info.album_id, info.album_name or info.album_id)
        else:
            ms, track_entry, artist, artist_entry, album_entry = other(g)
        total += ms
        _count(tracks, track_entry, artist, g.plays, ms)
        if artist_entry is not None:
            _count(artists, artist_entry, None, g.plays, ms)
        if album_entry is not None:
            _count(albums, album_entry, artist, g.plays, ms)
    return tracks, artists, albums, total


def pick(tables: Tables, kind: str) -> dict[str, Acc]:
    return {"tracks": tables[0], "artists": tables[1], "albums": tables[2]}[kind]


def with_candidates(
    table: dict[str, Acc], kind: str, found: list[Candidate], named: dict[str, str | None]
) -> dict[str, Acc]:
    """``table`` (a copy) with the database's candidates added; for albums ``named`` gives the
    primary artist of the track each candidate names."""
    out = dict(table)
    for c in found:
        artist = named.get(c.artist) if kind == "albums" and c.artist else c.artist
        out[c.key] = Acc(c.name, artist, c.plays, c.ms)
    return out


def top_list(kind: str, table: dict[str, Acc], n: int) -> TopList:
    """The first ``n`` of ``table`` by plays and by minutes; ties are broken by name, then key."""
    by_plays = best(
        table, n, lambda a: (a.plays, a.ms), lambda i: (-i.plays, -i.ms, i.name.casefold(), i.key)
    )
    by_minutes = best(
        table, n, lambda a: (a.ms, a.plays), lambda i: (-i.ms, -i.plays, i.name.casefold(), i.key)
    )
    return TopList(kind, by_plays, by_minutes)


def best(
    table: dict[str, Acc], n: int, rank: Callable[[Acc], tuple[int, int]], order: Callable[[TopItem], Any]
) -> tuple[TopItem, ...]:
    """The first ``n`` items in ``order``, whose first two keys are ``rank`` descending: only the
    entries ranked at least as high as the n-th best are made items and sorted by name."""
    if len(table) > n:
        cut = heapq.nlargest(n, map(rank, table.values()))[-1]
        entries = [(k, a) for k, a in table.items() if rank(a) >= cut]
    else:
        entries = list(table.items())
    return tuple(sorted((a.item(k) for k, a in entries), key=order)[:n])
