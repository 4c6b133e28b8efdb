"""Web API JSON for catalog records, with the keys, types and nesting Spotify sends.

Two app modes, as Spotify has them since March 2026 (see docs/spotify-api.md §5):

- ``extended``: every field, as in the recorded responses under tests/fixtures/spotify/api.
- ``development``: the fields removed for Development Mode apps are absent: track
  ``available_markets``, ``linked_from``, ``popularity``; album ``available_markets``, ``label``,
  ``popularity``; artist ``followers``, ``popularity``. Artist ``genres`` is sent empty and track
  ``preview_url`` is sent as ``null`` (30-second previews were withdrawn for such apps in 2024-11;
  the key itself stays, as the spec types it nullable). ``external_ids`` stays (the removal was
  reverted in March 2026).

``linked_from``, ``is_playable`` and ``restrictions`` only appear when a ``market`` is given and
track relinking applies; the simulator does not model markets per request, so they never appear.
Key order follows the most recent recorded capture of each object.
"""

from __future__ import annotations

from typing import Any

from spotify_pipeline.simulator.catalog import Catalog
from spotify_pipeline.simulator.ids import hex_token, stable_seed
from spotify_pipeline.simulator.model import Context
from spotify_pipeline.simulator.records import AlbumRec, TrackRec

API = "https://api.spotify.com/v1"
OPEN = "https://open.spotify.com"
MODES = ("development", "extended")
ALBUM_TRACKS_PAGE = 50  # GET /albums/{id} embeds the first 50 tracks, as Spotify does

# Real image-hash prefixes per size; the rest of the hash is derived from the id.
_ALBUM_IMAGE_SIZES = (("ab67616d0000b273", 640), ("ab67616d00001e02", 300), ("ab67616d00004851", 64))
_ARTIST_IMAGE_SIZES = (("ab6761610000e5eb", 640), ("ab67616100005174", 320), ("ab6761610000f178", 160))

JSON = dict[str, Any]


def _check_mode(mode: str) -> bool:
    """True for extended mode; rejects anything else so a typo cannot silently pick a shape."""
    if mode not in MODES:
        raise ValueError(f"app mode must be one of {MODES}, got {mode!r}")
    return mode == "extended"


def _links(kind: str, item_id: str) -> JSON:
    return {
        "external_urls": {"spotify": f"{OPEN}/{kind}/{item_id}"},
        "href": f"{API}/{kind}s/{item_id}",
    }


def _images(prefixes: tuple[tuple[str, int], ...], item_id: str) -> list[JSON]:
    return [
        {
            "height": size,
            "url": f"https://i.scdn.co/image/{prefix}{hex_token(24, 'image', item_id)}",
            "width": size,
        }
        for prefix, size in prefixes
    ]


def simplified_artist_object(cat: Catalog, artist_id: str) -> JSON:
    artist = cat.artists[artist_id]
    return {
        **_links("artist", artist_id),
        "id": artist_id,
        "name": artist.name,
        "type": "artist",
        "uri": f"spotify:artist:{artist_id}",
    }


def artist_object(cat: Catalog, artist_id: str, mode: str) -> JSON:
    extended = _check_mode(mode)
    artist = cat.artists[artist_id]
    out: JSON = {"external_urls": {"spotify": f"{OPEN}/artist/{artist_id}"}}
    if extended:
        out["followers"] = {"href": None, "total": artist.followers}
    out["genres"] = list(artist.genres) if extended else []
    out["href"] = f"{API}/artists/{artist_id}"
    out["id"] = artist_id
    out["images"] = _images(_ARTIST_IMAGE_SIZES, artist_id) if artist.has_images else []
    out["name"] = artist.name
    if extended:
        out["popularity"] = artist.popularity
    out["type"] = "artist"
    out["uri"] = f"spotify:artist:{artist_id}"
    return out


def _simplified_album_object(cat: Catalog, album: AlbumRec, extended: bool) -> JSON:
    """The album embedded in a track object (SimplifiedAlbumObject)."""
    out: JSON = {
        "album_type": album.album_type,
        "artists": [simplified_artist_object(cat, a) for a in album.artist_ids],
    }
    if extended:
        out["available_markets"] = list(album.available_markets)
    out.update(_links("album", album.id))
    out["id"] = album.id
    out["images"] = _images(_ALBUM_IMAGE_SIZES, album.id)
    out["name"] = album.name
    out["release_date"] = album.release_date
    out["release_date_precision"] = album.release_date_precision
    out["total_tracks"] = album.total_tracks
    out["type"] = "album"
    out["uri"] = f"spotify:album:{album.id}"
    return out


def _preview_url(track: TrackRec, extended: bool) -> str | None:
    return f"https://p.scdn.co/mp3-preview/{hex_token(40, 'preview', track.isrc)}" if extended else None


def track_object(cat: Catalog, track_id: str, mode: str) -> JSON:
    """A full TrackObject, as embedded in recently-played items and sent by GET /tracks/{id}."""
    extended = _check_mode(mode)
    track = cat.tracks[track_id]
    out: JSON = {
        "album": _simplified_album_object(cat, cat.albums[track.album_id], extended),
        "artists": [simplified_artist_object(cat, a) for a in track.artist_ids],
    }
    if extended:
        out["available_markets"] = list(track.available_markets)
    out["disc_number"] = track.disc_number
    out["duration_ms"] = track.duration_ms
    out["explicit"] = track.explicit
    out["external_ids"] = {"isrc": track.isrc}
    out.update(_links("track", track_id))
    out["id"] = track_id
    out["is_local"] = False
    out["name"] = track.name
    if extended:
        out["popularity"] = track.popularity
    out["preview_url"] = _preview_url(track, extended)
    out["track_number"] = track.track_number
    out["type"] = "track"
    out["uri"] = f"spotify:track:{track_id}"
    return out


def simplified_track_object(cat: Catalog, track_id: str, mode: str) -> JSON:
    """A SimplifiedTrackObject, as listed in an album's ``tracks`` page."""
    extended = _check_mode(mode)
    track = cat.tracks[track_id]
    out: JSON = {"artists": [simplified_artist_object(cat, a) for a in track.artist_ids]}
    if extended:
        out["available_markets"] = list(track.available_markets)
    out["disc_number"] = track.disc_number
    out["duration_ms"] = track.duration_ms
    out["explicit"] = track.explicit
    out.update(_links("track", track_id))
    out["id"] = track_id
    out["is_local"] = False
    out["name"] = track.name
    out["preview_url"] = _preview_url(track, extended)
    out["track_number"] = track.track_number
    out["type"] = "track"
    out["uri"] = f"spotify:track:{track_id}"
    return out


def album_tracks_page(
    cat: Catalog, album_id: str, mode: str, offset: int = 0, limit: int = ALBUM_TRACKS_PAGE
) -> JSON:
    """A PagingObject of the album's SimplifiedTrackObjects (also GET /albums/{id}/tracks)."""
    _check_mode(mode)
    track_ids = cat.albums[album_id].track_ids
    total = len(track_ids)
    base = f"{API}/albums/{album_id}/tracks"
    return {
        "href": f"{base}?offset={offset}&limit={limit}",
        "items": [simplified_track_object(cat, t, mode) for t in track_ids[offset : offset + limit]],
        "limit": limit,
        "next": f"{base}?offset={offset + limit}&limit={limit}" if offset + limit < total else None,
        "offset": offset,
        "previous": f"{base}?offset={max(0, offset - limit)}&limit={limit}" if offset > 0 else None,
        "total": total,
    }


def album_object(cat: Catalog, album_id: str, mode: str) -> JSON:
    """A full AlbumObject (GET /albums/{id}), with the first page of its tracks."""
    extended = _check_mode(mode)
    album = cat.albums[album_id]
    out: JSON = {
        "album_type": album.album_type,
        "total_tracks": album.total_tracks,
        "artists": [simplified_artist_object(cat, a) for a in album.artist_ids],
    }
    if extended:
        out["available_markets"] = list(album.available_markets)
    label = album.label
    year = album.copyright_year
    out["copyrights"] = [
        {"text": f"(C) {year} {label}", "type": "C"},
        {"text": f"(P) {year} {label}", "type": "P"},
    ]
    out["external_ids"] = {"upc": album.upc}
    out.update(_links("album", album_id))
    # The spec: "Deprecated. The array is always empty." (both modes, as in the fixtures).
    out["genres"] = []
    out["id"] = album_id
    out["images"] = _images(_ALBUM_IMAGE_SIZES, album_id)
    if extended:
        out["label"] = label
    out["name"] = album.name
    if extended:
        out["popularity"] = album.popularity
    out["release_date"] = album.release_date
    out["release_date_precision"] = album.release_date_precision
    out["tracks"] = album_tracks_page(cat, album_id, mode)
    out["type"] = "album"
    out["uri"] = f"spotify:album:{album_id}"
    return out


def audio_features_object(cat: Catalog, track_id: str) -> JSON:
    """An AudioFeaturesObject. Values derive from the ISRC, so every release of a recording agrees."""
    track = cat.tracks[track_id]
    s = stable_seed("features", track.isrc)

    def unit(shift: int) -> float:
        return round(((s >> shift) & 0xFFFF) / 0xFFFF, 3)

    return {
        "danceability": unit(0),
        "energy": unit(4),
        "key": (s >> 8) % 12,
        "loudness": round(-2.0 - 14.0 * unit(12), 3),
        "mode": (s >> 16) & 1,
        "speechiness": round(0.02 + 0.3 * unit(20) ** 3, 4),
        "acousticness": round(unit(24) ** 2, 5),
        "instrumentalness": round(unit(28) ** 4, 5),
        "liveness": round(0.05 + 0.6 * unit(32) ** 3, 4),
        "valence": unit(36),
        "tempo": round(70.0 + 110.0 * unit(40), 3),
        "type": "audio_features",
        "id": track_id,
        "uri": f"spotify:track:{track_id}",
        "track_href": f"{API}/tracks/{track_id}",
        "analysis_url": f"{API}/audio-analysis/{track_id}",
        "duration_ms": track.duration_ms,
        "time_signature": 3 if (s >> 44) % 10 == 0 else 4,
    }


def context_object(ctx: Context | None) -> JSON | None:
    """The ``context`` of a play-history item; ``None`` when the play had none (as Spotify sends it)."""
    if ctx is None:
        return None
    item_id = ctx.uri.rsplit(":", 1)[-1]
    return {
        "uri": ctx.uri,
        "external_urls": {"spotify": f"{OPEN}/{ctx.type}/{item_id}"},
        "href": f"{API}/{ctx.type}s/{item_id}",
        "type": ctx.type,
    }
