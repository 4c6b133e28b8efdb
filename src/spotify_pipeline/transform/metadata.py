"""Catalog objects (artists, albums, tracks, audio features) -> dimension rows.

Shapes differ by where an object comes from: a track inside a play is a full TrackObject in
current captures but a simplified one (no album, no popularity) in 2016 captures; Development
Mode apps get artists without popularity/followers and albums without label/popularity. Absent
fields become None, never a guessed 0.
"""

from __future__ import annotations

from typing import Any

from ..errors import MalformedRecord
from . import fields as f
from .rows import AlbumRow, ArtistRow, AudioFeaturesRow, CatalogRows, Credit, TrackRow

_FEATURE_FLOATS = (
    "danceability", "energy", "loudness", "speechiness", "acousticness",
    "instrumentalness", "liveness", "valence", "tempo",
)  # fmt: skip
_FEATURE_INTS = ("key", "mode", "time_signature", "duration_ms")


def artist_row(obj: Any, *, full: bool = True, source: str = "artist object") -> ArtistRow:
    """An ArtistObject (``GET /artists/{id}``, followed artists) as a row; ``full=False`` for the
    simplified artist on a track or album. Raises MalformedRecord naming ``source``."""
    try:
        return parse_artist(obj, "artist", full=full)
    except f.BadField as exc:
        raise MalformedRecord(source, _id_of(obj), str(exc)) from None


def album_row(obj: Any, *, source: str = "album object") -> AlbumRow:
    """A full AlbumObject (``GET /albums/{id}``) as a row with ``full=True``."""
    return album_rows(obj, source=source).albums[0]


def album_rows(obj: Any, *, source: str = "album object") -> CatalogRows:
    """A full AlbumObject: the album (full), its simplified artists and its ordered credits."""
    try:
        rows = CatalogRows()
        parse_album(obj, "album", full=True, into=rows)
        return rows
    except f.BadField as exc:
        raise MalformedRecord(source, _id_of(obj), str(exc)) from None


def track_rows(obj: Any, *, source: str = "track object") -> CatalogRows:
    """A TrackObject: the track, its simplified album and artists, and the ordered credits.
    A local file (no Spotify id) yields no rows."""
    try:
        rows = CatalogRows()
        parse_track(obj, "track", into=rows)
        return rows
    except f.BadField as exc:
        raise MalformedRecord(source, _id_of(obj), str(exc)) from None


def audio_features_row(obj: Any, *, source: str = "audio features object") -> AudioFeaturesRow:
    """An AudioFeaturesObject as a row (the numeric fields; URLs are not kept)."""
    try:
        o = f.obj(obj, "audio features")
        values: dict[str, Any] = {name: f.opt_float(o, name, "audio features") for name in _FEATURE_FLOATS}
        for name in _FEATURE_INTS:
            values[name] = _opt_signed_int(o, name, "audio features")
        return AudioFeaturesRow(track_id=f.req_str(o, "id", "audio features", f.ID), **values)
    except f.BadField as exc:
        raise MalformedRecord(source, _id_of(obj), str(exc)) from None


# -- parsers raising BadField: shared with recently_played and following ---------------------------


def parse_artist(value: Any, where: str, *, full: bool) -> ArtistRow:
    o = f.obj(value, where)
    genres: tuple[str, ...] | None = None
    followers: int | None = None
    popularity: int | None = None
    if full:
        raw_genres = f.opt_list(o, "genres", where)
        if raw_genres is not None:
            if not all(isinstance(g, str) for g in raw_genres):
                raise f.BadField(f"{where}.genres holds a value that is not a string")
            genres = tuple(f.text(g, f"{where}.genres[{n}]") for n, g in enumerate(raw_genres))
        follower_obj = f.opt_obj(o, "followers", where)
        followers = (
            f.opt_int(follower_obj, "total", f"{where}.followers", f.BIG_MAX) if follower_obj else None
        )
        popularity = f.opt_int(o, "popularity", where)
    return ArtistRow(
        id=f.req_str(o, "id", where, f.ID),
        name=f.req_str(o, "name", where),
        uri=f.opt_str(o, "uri", where, f.URI),
        genres=genres,
        popularity=popularity,
        followers=followers,
        full=full,
    )


def parse_album(value: Any, where: str, *, full: bool, into: CatalogRows) -> AlbumRow:
    o = f.obj(value, where)
    album_id = f.req_str(o, "id", where, f.ID)
    total_tracks = f.opt_int(o, "total_tracks", where)
    if total_tracks is None and full:
        # Older full album captures carry the count only in the track paging object.
        paging = f.opt_obj(o, "tracks", where)
        total_tracks = f.opt_int(paging, "total", f"{where}.tracks") if paging else None
    album = AlbumRow(
        id=album_id,
        name=f.req_str(o, "name", where),
        album_type=f.opt_str(o, "album_type", where, f.SHORT),
        release_date=f.opt_str(o, "release_date", where, f.RELEASE_DATE),
        release_date_precision=f.opt_str(o, "release_date_precision", where, f.PRECISION),
        total_tracks=total_tracks,
        label=f.opt_str(o, "label", where) if full else None,
        popularity=f.opt_int(o, "popularity", where) if full else None,
        uri=f.opt_str(o, "uri", where, f.URI),
        full=full,
    )
    credits = _credits(o, album_id, where, into)
    into.extend(CatalogRows(albums=[album], album_artists=credits))
    return album


def parse_track(value: Any, where: str, *, into: CatalogRows) -> TrackRow | None:
    """Add the track's rows to ``into``; None (and no rows) for a local file, which has no id."""
    o = f.obj(value, where)
    if f.opt_bool(o, "is_local", where):
        return None
    track_id = f.req_str(o, "id", where, f.ID)
    album_obj = f.opt_obj(o, "album", where)
    album = parse_album(album_obj, f"{where}.album", full=False, into=into) if album_obj else None
    external = f.opt_obj(o, "external_ids", where)
    track = TrackRow(
        id=track_id,
        name=f.req_str(o, "name", where),
        album_id=album.id if album else None,
        duration_ms=f.opt_int(o, "duration_ms", where, f.BIG_MAX),
        explicit=f.opt_bool(o, "explicit", where),
        isrc=(f.opt_str(external, "isrc", f"{where}.external_ids", f.ISRC) or None) if external else None,
        track_number=f.opt_int(o, "track_number", where),
        disc_number=f.opt_int(o, "disc_number", where),
        popularity=f.opt_int(o, "popularity", where),
        uri=f.opt_str(o, "uri", where, f.URI),
    )
    credits = _credits(o, track_id, where, into)
    into.extend(CatalogRows(tracks=[track], track_artists=credits))
    return track


def _credits(o: dict[str, Any], owner_id: str, where: str, into: CatalogRows) -> list[Credit]:
    credits: list[Credit] = []
    artists: list[ArtistRow] = []
    for position, item in enumerate(f.req_list(o, "artists", where)):
        artist = parse_artist(item, f"{where}.artists[{position}]", full=False)
        artists.append(artist)
        credits.append(Credit(owner_id, position, artist.id))
    into.extend(CatalogRows(artists=artists))
    return credits


def _opt_signed_int(o: dict[str, Any], key: str, where: str) -> int | None:
    # Audio features use -1 for "no key detected"; duration_ms is BIGINT, the others INTEGER.
    value = o.get(key)
    if value is None:
        return None
    top = f.BIG_MAX if key == "duration_ms" else f.INT_MAX
    if isinstance(value, bool) or not isinstance(value, int):
        raise f.BadField(f"{where}.{key} is {f.describe(value)}, expected an integer")
    if not -top <= value <= top:
        raise f.BadField(f"{where}.{key} = {f.number(value)} is out of range {-top}..{top}")
    return value


def _id_of(obj: Any) -> str:
    value = obj.get("id") if isinstance(obj, dict) else None
    return value if isinstance(value, str) and value else "?"
