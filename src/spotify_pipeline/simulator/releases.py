"""Artists releasing new albums and singles over time, with the truth of what came out when.

Only a simulator built with ``SimulatorConfig(structured_taste=True)`` has them: it builds its own
copy of the catalog (the shared one stays untouched, so every other simulator and test keeps its
numbers) and adds, for every artist with tracks, a release every 30-150 days between ``FIRST`` and
``LAST``. ``GET /artists/{id}/albums`` lists a release from its release day on; the listening model
plays the new releases of favourite artists in the weeks after they come out.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from .catalog import Catalog
from .ids import spotify_id, stable_seed
from .records import AlbumRec, TrackRec

FIRST = date(2025, 6, 1)
LAST = date(2027, 12, 31)
_TITLES = ("Northern Lights", "Second Wind", "Afterglow", "Paper Moons", "Slow Return", "Open Water",
           "Static Bloom", "Long Summer", "Glass Houses", "New Weather", "Low Tide", "Silver Lines")  # fmt: skip


@dataclass(frozen=True, slots=True)
class Release:
    """One new album or single: the truth the release check is measured against."""

    artist_id: str
    album_id: str
    album_type: str  # album | single
    released_on: date

    @property
    def released_at(self) -> datetime:
        return datetime(self.released_on.year, self.released_on.month, self.released_on.day, tzinfo=UTC)


class ReleaseSchedule:
    """Every release from ``FIRST`` to ``LAST``, added to ``catalog`` (which must be a private copy)."""

    def __init__(self, catalog: Catalog, seed: int) -> None:
        self.catalog = catalog
        self.by_artist: dict[str, list[Release]] = {}
        for artist_id in sorted(a for a in catalog.artists if catalog.artist_track_ids.get(a)):
            self.by_artist[artist_id] = self._artist_releases(artist_id, seed)

    def _artist_releases(self, artist_id: str, seed: int) -> list[Release]:
        rng = random.Random(stable_seed(seed, artist_id, "new releases"))
        cat = self.catalog
        template = cat.tracks[cat.artist_track_ids[artist_id][0]]
        out: list[Release] = []
        day = FIRST + timedelta(days=rng.randint(0, 120))
        n = 0
        while day <= LAST:
            single = rng.random() < 0.5
            album_id = spotify_id(seed, "new album", artist_id, n)
            track_ids = []
            for t in range(1 if single else rng.randint(6, 11)):
                tid = spotify_id(seed, "new track", artist_id, n, t)
                cat.tracks[tid] = TrackRec(
                    id=tid,
                    name=f"{rng.choice(_TITLES)} {n + 1}.{t + 1}",
                    album_id=album_id,
                    artist_ids=(artist_id,),
                    duration_ms=rng.randint(120_000, 300_000),
                    explicit=False,
                    isrc=f"ZZNEW{stable_seed(seed, tid) % 10**7:07d}",
                    popularity=template.popularity,
                    disc_number=1,
                    track_number=t + 1,
                    available_markets=template.available_markets,
                )
                track_ids.append(tid)
            album_type = "single" if single else "album"
            cat.albums[album_id] = AlbumRec(
                id=album_id,
                name=f"{rng.choice(_TITLES)} ({day.year})" if not single else cat.tracks[track_ids[0]].name,
                album_type=album_type,
                artist_ids=(artist_id,),
                release_date=day.isoformat(),
                release_date_precision="day",
                track_ids=tuple(track_ids),
                label="Independent",
                popularity=template.popularity,
                available_markets=template.available_markets,
                upc=f"{stable_seed(seed, album_id) % 10**12:012d}",
                copyright_year=day.year,
            )
            out.append(Release(artist_id, album_id, album_type, day))
            n += 1
            day += timedelta(days=rng.randint(30, 150))
        return out

    def releases(self, artist_id: str, start: date | None = None, end: date | None = None) -> list[Release]:
        """The artist's releases with ``start <= released_on < end``, oldest first."""
        return [
            r
            for r in self.by_artist.get(artist_id, [])
            if (start is None or r.released_on >= start) and (end is None or r.released_on < end)
        ]

    def recent(self, artist_id: str, day: date, within: timedelta) -> Release | None:
        """The artist's newest release out on ``day`` and no older than ``within``, if any."""
        found = None
        for r in self.by_artist.get(artist_id, []):
            if r.released_on > day:
                break
            if day - r.released_on <= within:
                found = r
        return found


def released_by(album: AlbumRec, today: date) -> bool:
    """Whether an album is out on ``today`` (a year or month precision date counts from its start)."""
    text = album.release_date
    parts = [int(p) for p in text.split("-")] + [1, 1]
    return date(parts[0], parts[1], parts[2]) <= today
