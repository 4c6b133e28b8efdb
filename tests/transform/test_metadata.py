import copy
from typing import Any

import pytest
from tests.conftest import load_fixture

from spotify_pipeline.errors import MalformedRawObject, MalformedRecord
from spotify_pipeline.transform import (
    AlbumRow,
    ArtistRow,
    AudioFeaturesRow,
    Credit,
    TrackRow,
    album_row,
    album_rows,
    artist_row,
    audio_features_row,
    followed_artist_rows,
    track_rows,
)


def test_full_artists_from_the_batch_capture() -> None:
    bowie, rex = (artist_row(a) for a in load_fixture("api/artists_several.json")["artists"])
    assert bowie == ArtistRow(
        id="0oSGxfWSnnOXhD2fKuz2Gy",
        name="David Bowie",
        uri="spotify:artist:0oSGxfWSnnOXhD2fKuz2Gy",
        genres=("art rock", "glam rock", "permanent wave"),
        popularity=77,
        followers=633494,
        full=True,
    )
    assert (rex.id, rex.name, rex.genres, rex.popularity, rex.followers) == (
        "3dBVyJ7JuOMt4GE9607Qin",
        "T. Rex",
        ("glam rock", "protopunk"),
        58,
        52338,
    )


def test_development_mode_artist_without_popularity_followers_or_genres() -> None:
    obj = load_fixture("api/artists_several.json")["artists"][0]
    for field in ("popularity", "followers", "genres"):
        del obj[field]
    row = artist_row(obj)
    assert (row.popularity, row.followers, row.genres, row.full) == (None, None, None, True)
    obj["genres"] = []
    assert artist_row(obj).genres == ()  # an empty list is an answer, absent is unknown


def test_full_album_with_total_from_the_track_paging_object() -> None:
    obj = load_fixture("api/albums_several.json")["albums"][0]
    rows = album_rows(obj)
    assert rows.albums == [
        AlbumRow(
            id="41MnTivkwTO3UUJ8DrqEJJ",
            name="The Best Of Keane (Deluxe Edition)",
            album_type="album",
            release_date="2013-11-08",
            release_date_precision="day",
            total_tracks=9,  # this 2016 capture has no total_tracks; tracks.total says 9
            label=None,
            popularity=65,
            uri="spotify:album:6UXCm6bOO4gFlDQZV5yL37",
            full=True,
        )
    ]
    assert rows.album_artists == [Credit("41MnTivkwTO3UUJ8DrqEJJ", 0, "53A0W3U0s8diEn9RhXQhVz")]
    assert [(a.id, a.name, a.full) for a in rows.artists] == [("53A0W3U0s8diEn9RhXQhVz", "Keane", False)]
    assert rows.tracks == []  # the album's simplified tracks are not plays' tracks
    assert album_row(obj) == rows.albums[0]


def test_album_with_label_and_total_tracks() -> None:
    obj = load_fixture("api/albums_several.json")["albums"][0]
    obj.update(label="Island Records", total_tracks=18)
    row = album_row(obj)
    assert (row.label, row.total_tracks) == ("Island Records", 18)


def test_full_tracks_from_the_batch_and_single_captures() -> None:
    several = load_fixture("api/tracks_several.json")["tracks"]
    rows = track_rows(several[1])
    assert rows.tracks == [
        TrackRow(
            id="3twNvmDtFQtAd5gMKedhLD",
            name="Somebody Told Me",
            album_id="4OHNH3sDzIxnmUADXzv2kT",
            duration_ms=197280,
            explicit=False,
            isrc="GBFFP0300054",
            track_number=4,
            disc_number=1,
            popularity=65,
            uri="spotify:track:3twNvmDtFQtAd5gMKedhLD",
        )
    ]
    assert [(a.id, a.name, a.full) for a in rows.albums] == [
        ("4OHNH3sDzIxnmUADXzv2kT", "Hot Fuss (Deluxe Version)", False)
    ]
    assert rows.track_artists == [("3twNvmDtFQtAd5gMKedhLD", 0, "0C0XlULifJtAgn6ZNCW2eu")]
    assert rows.album_artists == [("4OHNH3sDzIxnmUADXzv2kT", 0, "0C0XlULifJtAgn6ZNCW2eu")]
    single = track_rows(load_fixture("api/track_single.json"))
    assert [(t.id, t.name, t.isrc) for t in single.tracks] == [
        ("3n3Ppam7vgaVa1iaRUc9Lp", "Mr. Brightside", "GBFFP0300052")
    ]


def test_audio_features_exact_row() -> None:
    first = load_fixture("api/audio-features_several.json")["audio_features"][0]
    assert audio_features_row(first) == AudioFeaturesRow(
        track_id="4JpKVNYnVcJ8tuMKjAj50A",
        danceability=0.808,
        energy=0.626,
        key=7,
        loudness=-12.733,
        mode=1,
        speechiness=0.168,
        acousticness=0.00187,
        instrumentalness=0.159,
        liveness=0.376,
        valence=0.369,
        tempo=123.99,
        time_signature=4,
        duration_ms=535223,
    )
    first["key"] = -1  # "no key detected"
    assert audio_features_row(first).key == -1


@pytest.mark.parametrize(
    ("call", "obj", "source", "index", "reason"),
    [
        (artist_row, {"id": "x1", "name": None}, "artist object", "x1", "artist.name is missing"),
        (
            artist_row,
            {"id": "x1", "name": "A", "genres": "rock"},
            "artist object",
            "x1",
            "artist.genres is the string",
        ),
        (artist_row, {"id": "x1", "name": "A", "genres": ["rock", 3]}, "artist object", "x1", "not a string"),
        (
            artist_row,
            {"id": "x1", "name": "A", "followers": 5},
            "artist object",
            "x1",
            "artist.followers is the number 5",
        ),
        (album_row, {"name": "B", "artists": []}, "album object", "?", "album.id is missing"),
        (
            track_rows,
            {"id": "t", "name": "T", "artists": [{"id": "a"}]},
            "track object",
            "t",
            "track.artists[0].name",
        ),
        (
            audio_features_row,
            {"id": "t", "tempo": "fast"},
            "audio features object",
            "t",
            "audio features.tempo",
        ),
        (audio_features_row, {"id": "t", "key": 1.5}, "audio features object", "t", "audio features.key"),
        (audio_features_row, None, "audio features object", "?", "audio features is missing or null"),
    ],
)
def test_malformed_catalog_objects(call: Any, obj: Any, source: str, index: str, reason: str) -> None:
    with pytest.raises(MalformedRecord) as exc:
        call(obj)
    assert (exc.value.source, exc.value.index) == (source, index)
    assert reason in exc.value.reason, exc.value.reason


def test_followed_artists_page() -> None:
    rows = followed_artist_rows(
        load_fixture("api/following-artists.json"), "following_artists/2026112900.json"
    )
    assert rows == [
        ArtistRow(
            id="0I2XqVXqHScXjHhk6AYYRe",
            name="Afasi & Filthy",
            uri="spotify:artist:0I2XqVXqHScXjHhk6AYYRe",
            genres=("swedish hip hop",),
            popularity=54,
            followers=7753,
            full=True,
        )
    ]
    assert followed_artist_rows(load_fixture("api/following-artists_empty.json"), "k") == []


def test_followed_artists_dedup_and_errors() -> None:
    page = load_fixture("api/following-artists.json")
    page["artists"]["items"].append(copy.deepcopy(page["artists"]["items"][0]))
    assert len(followed_artist_rows(page, "k")) == 1
    page["artists"]["items"].append({"id": "abc"})
    with pytest.raises(MalformedRecord) as exc:
        followed_artist_rows(page, "k")
    assert (exc.value.source, exc.value.index) == ("k", 2)
    with pytest.raises(MalformedRawObject, match="no 'artists' object"):
        followed_artist_rows(load_fixture("api/recently-played_2023-09_limit2.json"), "k")
    with pytest.raises(MalformedRawObject, match="artists.items is not a list"):
        followed_artist_rows({"artists": {"items": None}}, "k")
