"""Conformance of the rendered catalog objects: same keys, types and nesting as the real recorded
responses, valid against the OpenAPI spec, for both app modes.

Development mode drops exactly the fields the spec marks ``deprecated`` (Spotify's marker for
"removed for Development Mode apps", docs/spotify-api.md §1 and §5), except artist ``genres``
(sent empty) and ``preview_url`` (sent as null).
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from openapi_schema_validator import OAS30Validator

from spotify_pipeline.simulator.catalog import Catalog
from spotify_pipeline.simulator.model import Context
from spotify_pipeline.simulator.objects import (
    album_object,
    artist_object,
    audio_features_object,
    context_object,
    simplified_artist_object,
    track_object,
)

Shape = dict[str, set[str]]
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "spotify"


def load_fixture(relpath: str) -> Any:
    return json.loads((FIXTURES / relpath).read_text(encoding="utf-8"))


# Fields required by openapi.yml (and sent by today's API) that the old 2018 album capture predates.
ALBUM_NEWER_THAN_FIXTURE: Shape = {
    "$.label": {"str"},
    "$.total_tracks": {"int"},
    "$.tracks.items[].is_local": {"bool"},
}
TRACK_DROPPED_IN_DEV = {"$.available_markets", "$.popularity", "$.album.available_markets"}
ALBUM_DROPPED_IN_DEV = {
    "$.available_markets",
    "$.label",
    "$.popularity",
    "$.tracks.items[].available_markets",
}
ARTIST_DROPPED_IN_DEV = {"$.followers", "$.popularity", "$.genres[]"}


def shape(value: Any, path: str = "$", out: Shape | None = None) -> Shape:
    """Every path in a JSON value (list items collapsed to ``[]``) with the JSON types seen there."""
    out = {} if out is None else out
    if isinstance(value, dict):
        out.setdefault(path, set()).add("object")
        for key, item in value.items():
            shape(item, f"{path}.{key}", out)
    elif isinstance(value, list):
        out.setdefault(path, set()).add("array")
        for item in value:
            shape(item, f"{path}[]", out)
    else:
        out.setdefault(path, set()).add(type(value).__name__)
    return out


def union(values: list[Any]) -> Shape:
    out: Shape = {}
    for v in values:
        shape(json.loads(json.dumps(v)), "$", out)  # through JSON, as a client would see it
    return out


def without(s: Shape, dropped: set[str]) -> Shape:
    """The shape less the dropped paths and everything under them."""

    def gone(path: str) -> bool:
        return any(path == d or path.startswith((d + ".", d + "[")) for d in dropped)

    return {k: v for k, v in s.items() if not gone(k)}


def preview_nulled(s: Shape) -> Shape:
    return {k: ({"NoneType"} if k.endswith("preview_url") else v) for k, v in s.items()}


@pytest.fixture(scope="module")
def cat() -> Catalog:
    return Catalog(seed=5, n_artists=80)


def sample(ids: Any, n: int = 40) -> list[str]:
    ids = sorted(ids)
    return ids[:: max(1, len(ids) // n)]


# ----------------------------------------------------------------------------- fixture shapes


def fixture_tracks() -> list[Any]:
    return [
        load_fixture("api/track_single.json"),
        *load_fixture("api/tracks_several.json")["tracks"],
        *(i["track"] for i in load_fixture("api/recently-played_2023-09_limit2.json")["items"]),
    ]


def test_track_shape_matches_recordings(cat: Catalog) -> None:
    real = union(fixture_tracks())
    tracks = sample(cat.tracks)
    assert union([track_object(cat, t, "extended") for t in tracks]) == real
    dev = union([track_object(cat, t, "development") for t in tracks])
    assert dev == preview_nulled(without(real, TRACK_DROPPED_IN_DEV))


def test_album_shape_matches_recordings(cat: Catalog) -> None:
    real = union(load_fixture("api/albums_several.json")["albums"]) | ALBUM_NEWER_THAN_FIXTURE
    albums = sample(cat.albums)
    # The fixtures' paging is a single page (next/previous null); compare like with like.
    small = [a for a in albums if cat.albums[a].total_tracks <= 50]
    assert union([album_object(cat, a, "extended") for a in small]) == real
    dev = union([album_object(cat, a, "development") for a in small])
    assert dev == preview_nulled(without(real, ALBUM_DROPPED_IN_DEV))


def test_artist_shape_matches_recordings(cat: Catalog) -> None:
    real = union(load_fixture("api/artists_several.json")["artists"])
    real_followed = union(load_fixture("api/following-artists.json")["artists"]["items"])
    artists = sample(cat.artists)
    ours = union([artist_object(cat, a, "extended") for a in artists])
    assert ours == real == real_followed
    dev = union([artist_object(cat, a, "development") for a in artists])
    assert dev == without(real, ARTIST_DROPPED_IN_DEV)
    assert all(artist_object(cat, a, "development")["genres"] == [] for a in artists)


def test_simplified_artist_matches_embedded_artists(cat: Catalog) -> None:
    real = union([a for t in fixture_tracks() for a in t["artists"]])
    assert union([simplified_artist_object(cat, a) for a in sample(cat.artists)]) == real


def test_audio_features_shape_matches_recordings(cat: Catalog) -> None:
    real = union(load_fixture("api/audio-features_several.json")["audio_features"])
    assert union([audio_features_object(cat, t) for t in sample(cat.tracks)]) == real


def test_audio_features_agree_across_releases_of_a_recording(cat: Catalog) -> None:
    by_isrc: dict[str, list[str]] = {}
    for t in cat.tracks.values():
        by_isrc.setdefault(t.isrc, []).append(t.id)
    a, b = next(ids for ids in by_isrc.values() if len(ids) > 1)[:2]
    fa, fb = audio_features_object(cat, a), audio_features_object(cat, b)
    for key in ("danceability", "energy", "key", "tempo", "valence", "duration_ms"):
        assert fa[key] == fb[key]


def test_context_shape_matches_recording() -> None:
    real = union(
        [i["context"] for i in load_fixture("api/recently-played_2016-12_artist-context.json")["items"]]
    )
    ours = union([context_object(Context("artist", "spotify:artist:5INjqkS1o8h1imAzPqGZBb"))])
    assert ours == real
    assert context_object(Context("playlist", "spotify:playlist:37i9dQZF1DXcBWIGoYBM5M")) == {
        "uri": "spotify:playlist:37i9dQZF1DXcBWIGoYBM5M",
        "external_urls": {"spotify": "https://open.spotify.com/playlist/37i9dQZF1DXcBWIGoYBM5M"},
        "href": "https://api.spotify.com/v1/playlists/37i9dQZF1DXcBWIGoYBM5M",
        "type": "playlist",
    }
    assert context_object(None) is None


def test_links_and_uris_follow_spotify(cat: Catalog) -> None:
    tid = sample(cat.tracks)[0]
    t = track_object(cat, tid, "extended")
    assert t["href"] == f"https://api.spotify.com/v1/tracks/{tid}"
    assert t["uri"] == f"spotify:track:{tid}"
    assert t["external_urls"] == {"spotify": f"https://open.spotify.com/track/{tid}"}
    assert t["album"]["uri"] == f"spotify:album:{t['album']['id']}"
    assert t["external_ids"] == {"isrc": cat.tracks[tid].isrc}
    assert track_object(cat, tid, "development")["external_ids"] == t["external_ids"]
    assert track_object(cat, tid, "development")["preview_url"] is None
    assert t["preview_url"].startswith("https://p.scdn.co/mp3-preview/")


def test_long_album_pages_its_tracks(cat: Catalog) -> None:
    long = next((a for a in cat.albums.values() if a.total_tracks > 3), None)
    assert long is not None
    from spotify_pipeline.simulator.objects import album_tracks_page

    page = album_tracks_page(cat, long.id, "extended", offset=0, limit=2)
    assert page["total"] == long.total_tracks and len(page["items"]) == 2
    assert page["next"] == f"https://api.spotify.com/v1/albums/{long.id}/tracks?offset=2&limit=2"
    assert page["previous"] is None
    last = album_tracks_page(cat, long.id, "extended", offset=2, limit=50)
    assert last["next"] is None and last["previous"] is not None


def test_unknown_mode_is_rejected(cat: Catalog) -> None:
    with pytest.raises(ValueError, match="app mode"):
        track_object(cat, sample(cat.tracks)[0], "dev")


# ----------------------------------------------------------------------------- OpenAPI schemas


@cache
def spec() -> dict[str, Any]:
    return yaml.safe_load((FIXTURES / "openapi.yml").read_text(encoding="utf-8"))


def _deprecated_props(schema: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(schema, dict):
        for name, prop in (schema.get("properties") or {}).items():
            if isinstance(prop, dict) and prop.get("deprecated"):
                found.add(name)
        for part in schema.get("allOf", []):
            found |= _deprecated_props(part)
    return found


def _drop_deprecated_required(schema: Any, deprecated: set[str]) -> None:
    if isinstance(schema, dict):
        if isinstance(schema.get("required"), list):
            schema["required"] = [r for r in schema["required"] if r not in deprecated]
        for value in schema.values():
            _drop_deprecated_required(value, deprecated)
    elif isinstance(schema, list):
        for value in schema:
            _drop_deprecated_required(value, deprecated)


@cache
def components(mode: str) -> dict[str, Any]:
    comps = copy.deepcopy(spec()["components"])
    if mode == "development":
        # A development-mode object legitimately lacks what the spec marks deprecated.
        for schema in comps["schemas"].values():
            _drop_deprecated_required(schema, _deprecated_props(schema))
    return comps


def validate(obj: Any, schema_name: str, mode: str) -> None:
    root = {"components": components(mode), "$ref": f"#/components/schemas/{schema_name}"}
    errors = list(OAS30Validator(root).iter_errors(json.loads(json.dumps(obj))))
    assert not errors, f"{schema_name} ({mode}): " + "; ".join(
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:5]
    )


def test_the_validator_catches_a_wrong_type(cat: Catalog) -> None:
    broken = track_object(cat, sample(cat.tracks)[0], "extended")
    broken["duration_ms"] = "long"
    with pytest.raises(AssertionError, match="duration_ms"):
        validate(broken, "TrackObject", "extended")
    album = album_object(cat, sample(cat.albums)[0], "extended")
    del album["label"]
    with pytest.raises(AssertionError, match="label"):
        validate(album, "AlbumObject", "extended")


@pytest.mark.parametrize("mode", ["extended", "development"])
def test_objects_validate_against_openapi(cat: Catalog, mode: str) -> None:
    for t in sample(cat.tracks, 15):
        validate(track_object(cat, t, mode), "TrackObject", mode)
        validate(audio_features_object(cat, t), "AudioFeaturesObject", mode)
    for a in sample(cat.albums, 10):
        validate(album_object(cat, a, mode), "AlbumObject", mode)
    for a in sample(cat.artists, 15):
        validate(artist_object(cat, a, mode), "ArtistObject", mode)
        validate(simplified_artist_object(cat, a), "SimplifiedArtistObject", mode)
    validate(
        context_object(Context("album", f"spotify:album:{sample(cat.albums)[0]}")), "ContextObject", mode
    )


def test_development_objects_carry_no_removed_field(cat: Catalog) -> None:
    schemas = spec()["components"]["schemas"]
    kept = {"genres", "preview_url"}  # sent empty / null rather than dropped
    checks = [
        (track_object(cat, sample(cat.tracks)[0], "development"), "TrackObject"),
        (track_object(cat, sample(cat.tracks)[0], "development")["album"], "SimplifiedAlbumObject"),
        (album_object(cat, sample(cat.albums)[0], "development"), "AlbumObject"),
        (
            album_object(cat, sample(cat.albums)[0], "development")["tracks"]["items"][0],
            "SimplifiedTrackObject",
        ),
        (artist_object(cat, sample(cat.artists)[0], "development"), "ArtistObject"),
    ]
    for obj, name in checks:
        deprecated = _deprecated_props(schemas[name])
        for part in schemas[name].get("allOf", []):
            if "$ref" in part:
                deprecated |= _deprecated_props(schemas[part["$ref"].rsplit("/", 1)[-1]])
        assert deprecated, name
        assert set(obj) & deprecated <= kept, f"{name} keeps {set(obj) & deprecated - kept}"
