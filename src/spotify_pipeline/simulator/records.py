"""The simulated catalog's records: plain frozen dataclasses, one per kind of object.

``catalog.py`` generates them; ``objects.py`` renders them as Web API JSON.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ArtistRec:
    id: str
    name: str
    genres: tuple[str, ...]
    popularity: int
    followers: int
    has_images: bool


@dataclass(frozen=True, slots=True)
class AlbumRec:
    id: str
    name: str
    album_type: str  # album | single | compilation
    artist_ids: tuple[str, ...]
    release_date: str  # "YYYY-MM-DD" | "YYYY-MM" | "YYYY", matching the precision
    release_date_precision: str  # day | month | year
    track_ids: tuple[str, ...]
    label: str
    popularity: int
    available_markets: tuple[str, ...]
    upc: str
    copyright_year: int

    @property
    def total_tracks(self) -> int:
        return len(self.track_ids)


@dataclass(frozen=True, slots=True)
class TrackRec:
    id: str
    name: str
    album_id: str
    artist_ids: tuple[str, ...]  # ordered: main artist first, then features
    duration_ms: int
    explicit: bool
    isrc: str  # shared by every release of the same recording
    popularity: int
    disc_number: int
    track_number: int
    available_markets: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PlaylistRec:
    id: str
    name: str
    track_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ShowRec:
    id: str
    name: str
    publisher: str
    episode_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class EpisodeRec:
    id: str
    name: str
    show_id: str
    duration_ms: int


@dataclass(frozen=True, slots=True)
class AudiobookRec:
    id: str
    title: str
    author: str
    chapter_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ChapterRec:
    id: str
    title: str
    audiobook_id: str
    duration_ms: int
