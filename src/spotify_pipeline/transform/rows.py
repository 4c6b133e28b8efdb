"""The rows the transform produces and the warehouse loads.

Plain frozen dataclasses, one per table; ``as_dict()`` gives the column mapping the warehouse
inserts. All datetimes are aware UTC; the warehouse converts them at its boundary.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass, field
from datetime import datetime
from operator import attrgetter, itemgetter
from typing import Any, NamedTuple


class _Row:
    def as_dict(self) -> dict[str, Any]:
        # A shallow mapping: dataclasses.asdict deep-copies every value, which dominated the load
        # time of a year of plays. Rows hold only immutable values, so nothing is shared mutably.
        return {name: getattr(self, name) for name in self.__dataclass_fields__}  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class PlayRow(_Row):
    """One play. Identity: (user_id, played_at to the millisecond).

    ``track_id`` is None for local files and for export rows that could not be resolved to an id;
    ``track_name``/``artist_name``/``album_name`` then say what was played. ``raw_key`` (API) or
    ``import_id`` (export) record where the row came from. No IP address or user agent, ever.
    """

    user_id: str
    played_at: datetime
    track_id: str | None
    _: KW_ONLY  # the rest by name: many optional columns of one type are easy to swap by position
    track_name: str | None = None
    artist_name: str | None = None
    album_name: str | None = None
    context_type: str | None = None
    context_uri: str | None = None
    source: str = "api"
    ms_played: int | None = None
    reason_start: str | None = None
    reason_end: str | None = None
    shuffle: bool | None = None
    skipped: bool | None = None
    offline: bool | None = None
    incognito: bool | None = None
    platform: str | None = None
    country: str | None = None
    raw_key: str | None = None
    import_id: int | None = None
    # Set by the import only: the run whose export record matched this API play, and the stream's
    # start from an extended record (None for API-only plays and account-data rows).
    matched_import_id: int | None = None
    started_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class TrackRow(_Row):
    id: str
    name: str
    album_id: str | None
    duration_ms: int | None
    explicit: bool | None
    isrc: str | None
    track_number: int | None
    disc_number: int | None
    popularity: int | None
    uri: str | None


@dataclass(frozen=True, slots=True)
class AlbumRow(_Row):
    """``full`` is False for the simplified album a track carries, True for ``GET /albums/{id}``."""

    id: str
    name: str
    album_type: str | None
    release_date: str | None
    release_date_precision: str | None
    total_tracks: int | None
    label: str | None = None
    popularity: int | None = None
    uri: str | None = None
    full: bool = False


@dataclass(frozen=True, slots=True)
class ArtistRow(_Row):
    """``full`` is False for the simplified artist on a track or album (no genres, popularity...)."""

    id: str
    name: str
    uri: str | None
    genres: tuple[str, ...] | None = None
    popularity: int | None = None
    followers: int | None = None
    full: bool = False


@dataclass(frozen=True, slots=True)
class AudioFeaturesRow(_Row):
    track_id: str
    danceability: float | None
    energy: float | None
    key: int | None
    loudness: float | None
    mode: int | None
    speechiness: float | None
    acousticness: float | None
    instrumentalness: float | None
    liveness: float | None
    valence: float | None
    tempo: float | None
    time_signature: int | None
    duration_ms: int | None


class Credit(NamedTuple):
    """One ordered artist credit of a track or an album: ``(track_or_album_id, position, artist_id)``,
    position 0 being the primary artist as Spotify lists them."""

    owner_id: str
    position: int
    artist_id: str


@dataclass(slots=True)
class CatalogRows:
    """Dimension rows from one or more track objects, each id once (first occurrence wins)."""

    tracks: list[TrackRow] = field(default_factory=list)
    albums: list[AlbumRow] = field(default_factory=list)
    artists: list[ArtistRow] = field(default_factory=list)
    track_artists: list[Credit] = field(default_factory=list)
    album_artists: list[Credit] = field(default_factory=list)

    def extend(self, *others: CatalogRows) -> None:
        """Add the rows of ``others`` whose ids are not here yet (the first occurrence wins).

        Pass many at once: each call indexes the ids already here, so extending item by item
        costs quadratic time over a page (profiled: half of a page's transform time).
        """
        for name, key in _CATALOG_KEYS:
            # One other (the parsers add each object's rows this way): no list to build.
            new = (
                getattr(others[0], name)
                if len(others) == 1
                else [r for o in others for r in getattr(o, name)]
            )
            if new:
                _merge(getattr(self, name), new, key)


_CATALOG_KEYS: tuple[tuple[str, Any], ...] = (
    ("tracks", attrgetter("id")),
    ("albums", attrgetter("id")),
    ("artists", attrgetter("id")),
    ("track_artists", itemgetter(0, 1)),  # Credit: (owner_id, position)
    ("album_artists", itemgetter(0, 1)),
)


@dataclass(slots=True)
class RecentlyPlayedRows(CatalogRows):
    """Everything one recently-played page yields. ``skipped`` counts items that are not music
    tracks (episodes, null tracks): they are not plays the warehouse keeps."""

    plays: list[PlayRow] = field(default_factory=list)
    skipped: int = 0


def _merge(into: list[Any], new: list[Any], key: Any) -> None:
    if not into:
        # A page's first merge (every one of a recently-played page's lists): the first row of
        # each key, in order, found in C (map, zip, dict) rather than a Python loop per row.
        keys = list(map(key, new))
        n = len(keys)
        first = dict(zip(reversed(keys), range(n - 1, -1, -1), strict=True))  # smallest index wins
        into.extend(new if len(first) == n else [new[i] for i in sorted(first.values())])
        return
    seen = {key(r) for r in into}
    for row in new:
        k = key(row)
        if k not in seen:
            seen.add(k)
            into.append(row)
