"""Search over the simulated catalog's tracks, as ``GET /search?type=track`` answers it.

Field filters ``track:``, ``artist:``, ``album:``, ``year:`` and ``isrc:`` take a quoted value or
the words up to the next filter; other words must each appear in the track, artist or album name.
Matching ignores case and punctuation. An exact track-name match ranks first, then popularity, then
id (so equal queries give equal answers).

The simulator shares no code with the client it imitates (pyproject's layers), so this normaliser
is its own, not ``transform/names.py``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_NORMALISE = re.compile(r"[^0-9a-z]+")
_FIELD = re.compile(r'(track|artist|album|year|isrc):("([^"]*)"|\S*)', re.IGNORECASE)


def norm(text: str) -> str:
    """Lower-case and reduce punctuation to single spaces, so "Mr. Brightside" finds "mr brightside"."""
    return " " + _NORMALISE.sub(" ", text.casefold()).strip() + " "


@dataclass(slots=True)
class SearchEntry:
    """One track as search sees it: names normalised once, when the index is built."""

    track_id: str
    name: str
    artists: str
    album: str
    year: str
    isrc: str
    popularity: int

    @classmethod
    def of(
        cls,
        track_id: str,
        name: str,
        artist_names: Iterable[str],
        album: str,
        release_date: str,
        isrc: str,
        popularity: int,
    ) -> SearchEntry:
        return cls(
            track_id=track_id,
            name=norm(name),
            artists=norm(" ".join(artist_names)),
            album=norm(album),
            year=release_date[:4],
            isrc=isrc.casefold(),
            popularity=popularity,
        )


@dataclass(frozen=True, slots=True)
class Query:
    """A parsed query: free words and the field filters (normalised as the index is)."""

    words: list[str]
    track: str | None
    artist: str | None
    album: str | None
    year: str | None
    isrc: str | None

    @property
    def empty(self) -> bool:
        return not (self.words or self.track or self.artist or self.album or self.year or self.isrc)

    def matches(self, e: SearchEntry) -> bool:
        if self.track and self.track not in e.name:
            return False
        if self.artist and self.artist not in e.artists:
            return False
        if self.album and self.album not in e.album:
            return False
        if self.year and not _year_matches(e.year, self.year):
            return False
        if self.isrc and e.isrc != self.isrc:
            return False
        return all(f" {w} " in e.name or f" {w} " in e.artists or f" {w} " in e.album for w in self.words)

    def exact(self, e: SearchEntry) -> bool:
        """The track name is the one asked for (ranks first)."""
        return bool(
            (self.track and e.name == self.track) or (self.words and e.name == norm(" ".join(self.words)))
        )


def parse_query(query: str) -> Query:
    filters: dict[str, str] = {}
    rest = query
    matches = list(_FIELD.finditer(query))
    if matches:
        rest = query[: matches[0].start()]
        for i, m in enumerate(matches):
            end = matches[i + 1].start() if i + 1 < len(matches) else len(query)
            value = m.group(3) if m.group(3) is not None else query[m.start(2) : end]
            filters[m.group(1).lower()] = value.strip()
    return Query(
        words=[w for w in norm(rest).split() if w],
        track=norm(filters["track"]) if filters.get("track") else None,
        artist=norm(filters["artist"]) if filters.get("artist") else None,
        album=norm(filters["album"]) if filters.get("album") else None,
        year=filters.get("year", "").strip() or None,
        isrc=filters.get("isrc", "").strip().casefold() or None,
    )


def search(index: Iterable[SearchEntry], query: str, limit: int) -> list[str]:
    """Track ids matching a Spotify-style query, best first (at most ``limit``)."""
    parsed = parse_query(query)
    if parsed.empty:
        return []
    hits = [(0 if parsed.exact(e) else 1, -e.popularity, e.track_id) for e in index if parsed.matches(e)]
    hits.sort()
    return [h[2] for h in hits[: max(0, limit)]]


def _year_matches(year: str, spec: str) -> bool:
    """``year:2019`` or ``year:2010-2019``, as Spotify's search accepts."""
    if "-" in spec:
        lo, _, hi = spec.partition("-")
        return lo.strip() <= year <= hi.strip()
    return year == spec
