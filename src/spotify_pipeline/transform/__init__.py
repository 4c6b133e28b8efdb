"""Pure transform: raw Spotify JSON -> rows for the warehouse. No clock, no I/O, no SQL.

Errors are only ever ``MalformedRawObject`` (the object is not what its key says) or
``MalformedRecord`` (one item is malformed; names the key and the item's index).
"""

from .following import followed_artist_rows
from .metadata import album_row, album_rows, artist_row, audio_features_row, track_rows
from .recently_played import recently_played_rows
from .rows import (
    AlbumRow,
    ArtistRow,
    AudioFeaturesRow,
    CatalogRows,
    Credit,
    PlayRow,
    RecentlyPlayedRows,
    TrackRow,
)
from .timestamps import format_played_at, parse_played_at

__all__ = [
    "AlbumRow",
    "ArtistRow",
    "AudioFeaturesRow",
    "CatalogRows",
    "Credit",
    "PlayRow",
    "RecentlyPlayedRows",
    "TrackRow",
    "album_row",
    "album_rows",
    "artist_row",
    "audio_features_row",
    "followed_artist_rows",
    "format_played_at",
    "parse_played_at",
    "recently_played_rows",
    "track_rows",
]
