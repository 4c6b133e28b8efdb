import json
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, Engine, Row, select
from tests.conftest import load_fixture

from spotify_pipeline.transform import (
    album_row,
    album_rows,
    artist_row,
    audio_features_row,
    recently_played_rows,
    track_rows,
)
from spotify_pipeline.warehouse import reads, writes
from spotify_pipeline.warehouse import schema as s

from .helpers import T0, page_2023

MACEO = "3TXQ1ddouwQAI78hV4hXDj"
ALBUM = "462nMAgJr4l14IqVngpOXM"
TRACK = "7vqcDtNvoJn5pXhktc8qe8"


def _artist(conn: Connection, artist_id: str) -> Row[Any]:
    return conn.execute(select(s.artists).where(s.artists.c.id == artist_id)).one()


def test_a_full_artist_is_never_downgraded_by_a_simplified_one(engine: Engine) -> None:
    full = artist_row(
        {
            "id": MACEO,
            "name": "Maceo Plex",
            "uri": f"spotify:artist:{MACEO}",
            "genres": ["minimal techno", "deep techno"],
            "popularity": 61,
            "followers": {"total": 300123},
        }
    )
    with engine.begin() as conn:
        writes.save_artists_full(conn, [full], fetched_at=T0)
    with engine.begin() as conn:  # later, a play carries the simplified artist
        writes.save_recently_played(
            conn, recently_played_rows(page_2023(), "alice", "k"), loaded_at=T0 + timedelta(days=1)
        )
    with engine.connect() as conn:
        row = _artist(conn, MACEO)
        assert (row.name, json.loads(row.genres), row.popularity, row.followers, row.fetched_at) == (
            "Maceo Plex",
            ["minimal techno", "deep techno"],
            61,
            300123,
            T0,
        )
        # the other artists of the page are known only simplified: enrichment work
        assert reads.missing_artist_ids(conn) == [
            "3YpEUCjdLuPmBspkmoPYnX",
            "5tDjiBYUsTqzd0RkTZxK7u",
            "7iCW4xyVOIklzZ2qc7pS5h",
        ]
        assert reads.missing_artist_ids(conn, limit=1) == ["3YpEUCjdLuPmBspkmoPYnX"]


def test_a_development_mode_fetch_keeps_what_an_earlier_fetch_knew(engine: Engine) -> None:
    obj = load_fixture("api/artists_several.json")["artists"][0]
    with engine.begin() as conn:
        writes.save_artists_full(conn, [artist_row(obj)], fetched_at=T0)
        lean = {k: v for k, v in obj.items() if k not in ("popularity", "followers", "genres")}
        writes.save_artists_full(
            conn, [artist_row({**lean, "name": "David Bowie ★"})], fetched_at=T0 + timedelta(days=30)
        )
    with engine.connect() as conn:
        row = _artist(conn, obj["id"])
    assert (row.name, row.popularity, row.followers, row.fetched_at) == (
        "David Bowie ★",
        77,
        633494,
        T0 + timedelta(days=30),
    )
    assert json.loads(row.genres) == ["art rock", "glam rock", "permanent wave"]


def test_a_simplified_track_does_not_erase_album_isrc_or_popularity(engine: Engine) -> None:
    with engine.begin() as conn:
        writes.save_recently_played(conn, recently_played_rows(page_2023(), "alice", "k"), loaded_at=T0)
        # the same track later in a 2016-style simplified shape: no album, no ISRC, no popularity
        page = page_2023()
        track = page["items"][0]["track"]
        for field in ("album", "external_ids", "popularity"):
            del track[field]
        track["name"] = "Solitary Daze (Remastered)"
        page["items"] = page["items"][:1]
        page["items"][0]["played_at"] = "2023-09-23T10:00:00.000Z"
        assert writes.save_recently_played(conn, recently_played_rows(page, "alice", "k2"), loaded_at=T0) == 1
    with engine.connect() as conn:
        row = conn.execute(select(s.tracks).where(s.tracks.c.id == TRACK)).one()
    assert (row.name, row.album_id, row.isrc, row.popularity, row.first_seen_at) == (
        "Solitary Daze (Remastered)",
        ALBUM,
        "GB7M21425001",
        51,
        T0,
    )


def test_full_albums_win_over_simplified_ones_in_either_order(engine: Engine) -> None:
    album = load_fixture("api/albums_several.json")["albums"][0]
    album.update(label="Island", total_tracks=18)
    with engine.begin() as conn:
        writes.save_albums_full(conn, album_rows(album), fetched_at=T0)
        # then a track carrying the same album, simplified, with a stale name
        track = load_fixture("api/track_single.json")
        track["album"] = {**track["album"], "id": album["id"], "name": "Old name", "total_tracks": 9}
        writes.save_catalog(conn, track_rows(track), seen_at=T0 + timedelta(days=1))
    with engine.connect() as conn:
        row = conn.execute(select(s.albums).where(s.albums.c.id == album["id"])).one()
        assert (row.name, row.label, row.total_tracks, row.popularity, row.fetched_at) == (
            "The Best Of Keane (Deluxe Edition)",
            "Island",
            18,
            65,
            T0,
        )
        assert reads.missing_album_ids(conn) == []
        credits = conn.execute(select(s.album_artists.c.position, s.album_artists.c.artist_id)).all()
        assert [tuple(c) for c in credits] == [(0, "0C0XlULifJtAgn6ZNCW2eu")]


def test_followed_artists_saved_simplified_are_inserted_once_and_stay_work(engine: Engine) -> None:
    obj = load_fixture("api/following-artists.json")["artists"]["items"][0]
    with engine.begin() as conn:
        assert writes.save_artists_simplified(conn, [artist_row(obj)]) == 1
        assert writes.save_artists_simplified(conn, [artist_row({**obj, "name": "Renamed"})]) == 0
        assert reads.missing_artist_ids(conn) == [obj["id"]]
        assert writes.save_artists_full(conn, [artist_row(obj)], fetched_at=T0) == 1
        assert reads.missing_artist_ids(conn) == []
        assert _artist(conn, obj["id"]).name == "Afasi & Filthy"


def test_bare_album_rows_and_full_tracks(engine: Engine) -> None:
    album = load_fixture("api/albums_several.json")["albums"][0]
    with engine.begin() as conn:
        assert writes.save_albums_full(conn, [album_row(album)], fetched_at=T0) == 1
        assert (
            writes.save_tracks_full(conn, track_rows(load_fixture("api/track_single.json")), seen_at=T0) == 1
        )
        assert reads.missing_album_ids(conn) == ["4OHNH3sDzIxnmUADXzv2kT"]  # the track's album, simplified
        track = conn.execute(select(s.tracks)).one()
    assert (track.id, track.album_id, track.first_seen_at) == (
        "3n3Ppam7vgaVa1iaRUc9Lp",
        "4OHNH3sDzIxnmUADXzv2kT",
        T0,
    )


def test_misses_are_never_asked_for_again(engine: Engine) -> None:
    with engine.begin() as conn:
        writes.save_recently_played(conn, recently_played_rows(page_2023(), "alice", "k"), loaded_at=T0)
        assert reads.missing_album_ids(conn) == ["0reS9m5prtXtDFetcKIr9C", ALBUM]
        writes.record_miss(conn, "album", ALBUM, status=404, attempted_at=T0)
        writes.record_miss(
            conn, "album", ALBUM, status="unavailable", attempted_at=T0 + timedelta(days=1)
        )  # recorded again: one row
        writes.record_miss(
            conn, "artist", ALBUM, status=404, attempted_at=T0
        )  # another kind does not hide the album
    with engine.connect() as conn:
        assert reads.missing_album_ids(conn) == ["0reS9m5prtXtDFetcKIr9C"]
        miss = conn.execute(select(s.metadata_misses).where(s.metadata_misses.c.kind == "album")).one()
        assert (miss.status, miss.attempted_at) == ("unavailable", T0 + timedelta(days=1))


def test_audio_features_saved_and_work_list(engine: Engine) -> None:
    features = load_fixture("api/audio-features_several.json")["audio_features"]
    with engine.begin() as conn:
        writes.save_catalog(conn, track_rows(load_fixture("api/track_single.json")), seen_at=T0)
        for t in load_fixture("api/tracks_several.json")["tracks"]:
            writes.save_catalog(conn, track_rows(t), seen_at=T0)
        assert reads.tracks_without_audio_features(conn) == [
            "3n3Ppam7vgaVa1iaRUc9Lp",
            "3twNvmDtFQtAd5gMKedhLD",
        ]
        rows = [
            audio_features_row({**f, "id": tid})
            for f, tid in zip(features, ["3n3Ppam7vgaVa1iaRUc9Lp", "x"], strict=False)
        ]
        assert writes.save_audio_features(conn, rows, fetched_at=T0) == 2
        writes.record_miss(conn, "audio_features", "3twNvmDtFQtAd5gMKedhLD", status=403, attempted_at=T0)
    with engine.connect() as conn:
        assert reads.tracks_without_audio_features(conn) == []
        row = conn.execute(
            select(s.audio_features).where(s.audio_features.c.track_id == "3n3Ppam7vgaVa1iaRUc9Lp")
        ).one()
    assert (row.tempo, row.loudness, row.acousticness, row.key, row.time_signature) == (
        123.99,
        -12.733,
        0.00187,
        7,
        4,
    )


def test_a_lookup_that_found_nothing_is_not_asked_for_again(engine: Engine) -> None:
    # process records a lookup's 404 under the kind the readers ask by; rows older versions wrote
    # under the endpoint's name ("albums") count too.
    from spotify_pipeline.transform.raw_object import Lookup

    assert Lookup("albums", ALBUM, T0, None).miss_kind == "album"
    assert Lookup("audio-features", "x", T0, None).miss_kind == "audio_features"
    with engine.begin() as conn:
        writes.save_recently_played(conn, recently_played_rows(page_2023(), "alice", "k"), loaded_at=T0)
        writes.record_miss(conn, "albums", ALBUM, status=404, attempted_at=T0)
    with engine.connect() as conn:
        assert reads.missing_album_ids(conn) == ["0reS9m5prtXtDFetcKIr9C"]
