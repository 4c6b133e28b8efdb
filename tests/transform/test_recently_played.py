import copy
from datetime import UTC, datetime
from typing import Any

import pytest
from tests.conftest import load_fixture

from spotify_pipeline.errors import MalformedRawObject, MalformedRecord
from spotify_pipeline.transform import (
    AlbumRow,
    ArtistRow,
    Credit,
    PlayRow,
    TrackRow,
    recently_played_rows,
)

KEY = "recently_played/2023092215.json"


def page_2023() -> dict[str, Any]:
    return load_fixture("api/recently-played_2023-09_limit2.json")


def test_2023_capture_exact_rows() -> None:
    rows = recently_played_rows(page_2023(), "alice", KEY)

    assert rows.plays == [
        PlayRow(
            user_id="alice",
            played_at=datetime(2023, 9, 22, 15, 43, 33, 750_000, tzinfo=UTC),
            track_id="7vqcDtNvoJn5pXhktc8qe8",
            track_name="Solitary Daze",
            artist_name="Maceo Plex",
            album_name="Solitary Daze",
            context_type=None,
            context_uri=None,
            source="api",
            raw_key=KEY,
        ),
        PlayRow(
            user_id="alice",
            played_at=datetime(2023, 9, 22, 15, 23, 14, 294_000, tzinfo=UTC),
            track_id="4rERaNiKlILD603GJvdEvm",
            track_name="Cappadocia",
            artist_name="Ben Böhmer",
            album_name="Cappadocia",
            raw_key=KEY,
        ),
    ]
    assert rows.tracks == [
        TrackRow(
            id="7vqcDtNvoJn5pXhktc8qe8",
            name="Solitary Daze",
            album_id="462nMAgJr4l14IqVngpOXM",
            duration_ms=463405,
            explicit=False,
            isrc="GB7M21425001",
            track_number=1,
            disc_number=1,
            popularity=51,
            uri="spotify:track:7vqcDtNvoJn5pXhktc8qe8",
        ),
        TrackRow(
            id="4rERaNiKlILD603GJvdEvm",
            name="Cappadocia",
            album_id="0reS9m5prtXtDFetcKIr9C",
            duration_ms=282063,
            explicit=False,
            isrc="FRX762007288",
            track_number=1,
            disc_number=1,
            popularity=56,
            uri="spotify:track:4rERaNiKlILD603GJvdEvm",
        ),
    ]
    assert rows.albums == [
        AlbumRow(
            id="462nMAgJr4l14IqVngpOXM",
            name="Solitary Daze",
            album_type="single",
            release_date="2014-12-29",
            release_date_precision="day",
            total_tracks=3,
            uri="spotify:album:462nMAgJr4l14IqVngpOXM",
            full=False,
        ),
        AlbumRow(
            id="0reS9m5prtXtDFetcKIr9C",
            name="Cappadocia",
            album_type="single",
            release_date="2020-09-10",
            release_date_precision="day",
            total_tracks=1,
            uri="spotify:album:0reS9m5prtXtDFetcKIr9C",
            full=False,
        ),
    ]
    assert [(a.id, a.name, a.full) for a in rows.artists] == [
        ("3TXQ1ddouwQAI78hV4hXDj", "Maceo Plex", False),
        ("3YpEUCjdLuPmBspkmoPYnX", "Gabriel Ananda", False),
        ("5tDjiBYUsTqzd0RkTZxK7u", "Ben Böhmer", False),
        ("7iCW4xyVOIklzZ2qc7pS5h", "Romain Garcia", False),
    ]
    assert rows.artists[0] == ArtistRow(
        "3TXQ1ddouwQAI78hV4hXDj", "Maceo Plex", "spotify:artist:3TXQ1ddouwQAI78hV4hXDj"
    )
    assert rows.track_artists == [
        ("7vqcDtNvoJn5pXhktc8qe8", 0, "3TXQ1ddouwQAI78hV4hXDj"),
        ("7vqcDtNvoJn5pXhktc8qe8", 1, "3YpEUCjdLuPmBspkmoPYnX"),
        ("4rERaNiKlILD603GJvdEvm", 0, "5tDjiBYUsTqzd0RkTZxK7u"),
        ("4rERaNiKlILD603GJvdEvm", 1, "7iCW4xyVOIklzZ2qc7pS5h"),
    ]
    assert rows.album_artists == [
        Credit("462nMAgJr4l14IqVngpOXM", 0, "3TXQ1ddouwQAI78hV4hXDj"),
        Credit("462nMAgJr4l14IqVngpOXM", 1, "3YpEUCjdLuPmBspkmoPYnX"),
        Credit("0reS9m5prtXtDFetcKIr9C", 0, "5tDjiBYUsTqzd0RkTZxK7u"),
        Credit("0reS9m5prtXtDFetcKIr9C", 1, "7iCW4xyVOIklzZ2qc7pS5h"),
    ]
    assert rows.skipped == 0


def test_2016_capture_artist_context_and_simplified_tracks() -> None:
    rows = recently_played_rows(load_fixture("api/recently-played_2016-12_artist-context.json"), "bob", "k")

    assert [(p.played_at, p.track_id, p.context_type, p.context_uri) for p in rows.plays] == [
        (
            datetime(2016, 12, 13, 20, 44, 4, 589_000, tzinfo=UTC),
            "2gNfxysfBRfl9Lvi9T3v6R",
            "artist",
            "spotify:artist:5INjqkS1o8h1imAzPqGZBb",
        ),
        (
            datetime(2016, 12, 13, 20, 42, 17, 16_000, tzinfo=UTC),
            "2X485T9Z5Ly0xyaghN73ed",
            "artist",
            "spotify:artist:5INjqkS1o8h1imAzPqGZBb",
        ),
    ]
    # 2016 tracks are simplified: no album, no ISRC, no popularity. None, never a guessed value.
    assert rows.tracks[0] == TrackRow(
        id="2gNfxysfBRfl9Lvi9T3v6R",
        name="Disciples",
        album_id=None,
        duration_ms=108546,
        explicit=False,
        isrc=None,
        track_number=9,
        disc_number=1,
        popularity=None,
        uri="spotify:track:2gNfxysfBRfl9Lvi9T3v6R",
    )
    assert rows.albums == [] and rows.album_artists == []
    # one artist on both tracks: one artist row, two credits
    assert [a.id for a in rows.artists] == ["5INjqkS1o8h1imAzPqGZBb"]
    assert rows.track_artists == [
        ("2gNfxysfBRfl9Lvi9T3v6R", 0, "5INjqkS1o8h1imAzPqGZBb"),
        ("2X485T9Z5Ly0xyaghN73ed", 0, "5INjqkS1o8h1imAzPqGZBb"),
    ]


def test_empty_page_with_null_cursors() -> None:
    page = load_fixture("api/recently-played_empty_beyond-window.json")
    assert page["cursors"] is None
    rows = recently_played_rows(page, "alice", KEY)
    assert rows.plays == [] and rows.tracks == [] and rows.skipped == 0


def test_duplicates_inside_a_page_are_dropped() -> None:
    page = page_2023()
    page["items"].append(copy.deepcopy(page["items"][0]))
    rows = recently_played_rows(page, "alice", KEY)
    assert [p.track_id for p in rows.plays] == ["7vqcDtNvoJn5pXhktc8qe8", "4rERaNiKlILD603GJvdEvm"]
    assert len(rows.tracks) == 2 and len(rows.track_artists) == 4


def test_same_track_played_twice_is_two_plays() -> None:
    page = page_2023()
    again = copy.deepcopy(page["items"][0])
    again["played_at"] = "2023-09-22T15:51:17.001Z"
    page["items"].insert(0, again)
    rows = recently_played_rows(page, "alice", KEY)
    assert [p.track_id for p in rows.plays] == [
        "7vqcDtNvoJn5pXhktc8qe8",
        "7vqcDtNvoJn5pXhktc8qe8",
        "4rERaNiKlILD603GJvdEvm",
    ]
    assert len(rows.tracks) == 2


def test_episodes_and_null_tracks_are_skipped_and_counted() -> None:
    page = page_2023()
    episode = copy.deepcopy(page["items"][0])
    episode["track"] = {"type": "episode", "id": "512ojhOuo1ktJprKbVcKyQ", "name": "A podcast"}
    episode["played_at"] = "2023-09-22T16:00:00.000Z"
    null_track = {"track": None, "played_at": "2023-09-22T16:10:00.000Z", "context": None}
    page["items"] = [episode, null_track, *page["items"]]
    rows = recently_played_rows(page, "alice", KEY)
    assert rows.skipped == 2
    assert len(rows.plays) == 2


def test_local_file_play_is_kept_with_names_and_no_catalog_rows() -> None:
    page = page_2023()
    page["items"] = [
        {
            "track": {
                "type": "track",
                "is_local": True,
                "id": None,
                "name": "Demo tape",
                "uri": "spotify:local:Me:Tapes:Demo+tape:180",
                "album": {"id": None, "name": "Tapes", "type": "album"},
                "artists": [{"id": None, "name": "Me", "type": "artist"}],
            },
            "played_at": "2023-09-22T16:00:00.000Z",
            "context": None,
        }
    ]
    rows = recently_played_rows(page, "alice", KEY)
    assert rows.plays == [
        PlayRow(
            user_id="alice",
            played_at=datetime(2023, 9, 22, 16, tzinfo=UTC),
            track_id=None,
            track_name="Demo tape",
            artist_name="Me",
            album_name="Tapes",
            raw_key=KEY,
        )
    ]
    assert rows.tracks == [] and rows.artists == [] and rows.albums == []


@pytest.mark.parametrize(
    ("page", "reason"),
    [
        ([], "expected a JSON object"),
        ({"error": {"status": 401}}, "no 'items' list"),
        ({"items": None, "cursors": None}, "no 'items' list"),
        ({"items": {"0": {}}}, "no 'items' list"),
    ],
)
def test_a_page_that_is_not_a_page_is_a_malformed_object(page: Any, reason: str) -> None:
    with pytest.raises(MalformedRawObject) as exc:
        recently_played_rows(page, "alice", KEY)
    assert exc.value.key == KEY
    assert reason in exc.value.reason


def _break(mutate: Any) -> dict[str, Any]:
    page = page_2023()
    mutate(page["items"][1])
    return page


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda item: item.pop("played_at"), "item.played_at is missing or null"),
        (lambda item: item.update(played_at="yesterday"), "'yesterday' is not ISO-8601"),
        (lambda item: item.update(played_at="2023-09-22T15:23:14.294"), "is not ISO-8601 with an offset"),
        (lambda item: item["track"].pop("id"), "item.track.id is missing or null"),
        (lambda item: item["track"].update(id=""), "item.track.id is an empty string"),
        (lambda item: item["track"].pop("type"), "item.track.type is missing or null"),
        (
            lambda item: item["track"].update(duration_ms="463405"),
            "item.track.duration_ms is the string '463405'",
        ),
        (lambda item: item["track"].update(duration_ms=True), "item.track.duration_ms is the boolean true"),
        (lambda item: item["track"].update(duration_ms=-1), "out of range"),
        (lambda item: item["track"].update(explicit="no"), "item.track.explicit is the string 'no'"),
        (lambda item: item["track"]["album"].pop("name"), "item.track.album.name is missing or null"),
        (lambda item: item["track"].update(artists=None), "item.track.artists is missing or null"),
        (
            lambda item: item["track"]["artists"].append("Maceo"),
            "item.track.artists[2] is the string 'Maceo'",
        ),
        (lambda item: item.update(context="playlist"), "item.context is the string 'playlist'"),
        (lambda item: item.update(track=["x"]), "item.track is a list"),
    ],
)
def test_a_malformed_item_names_the_object_the_index_and_the_field(mutate: Any, reason: str) -> None:
    with pytest.raises(MalformedRecord) as exc:
        recently_played_rows(_break(mutate), "alice", KEY)
    assert exc.value.source == KEY
    assert exc.value.index == 1
    assert reason in exc.value.reason, exc.value.reason
    assert str(exc.value).startswith(f"{KEY} record 1: ")


def test_an_item_that_is_not_an_object() -> None:
    page = page_2023()
    page["items"].insert(0, "7vqcDtNvoJn5pXhktc8qe8")
    with pytest.raises(MalformedRecord) as exc:
        recently_played_rows(page, "alice", KEY)
    assert exc.value.index == 0
    assert "item is the string" in exc.value.reason


def test_the_input_page_is_not_modified() -> None:
    page = page_2023()
    before = copy.deepcopy(page)
    recently_played_rows(page, "alice", KEY)
    assert page == before


def test_a_lone_surrogate_in_a_name_becomes_a_replacement_character_and_the_page_loads() -> None:
    page = page_2023()
    page["items"][0]["track"]["name"] = "bad \ud800 name"
    page["items"][0]["track"]["album"]["name"] = "\udfff"
    rows = recently_played_rows(page, "alice", KEY)
    assert len(rows.plays) == 2
    assert rows.plays[0].track_name == "bad \ufffd name"
    assert rows.tracks[0].name == "bad \ufffd name"
    assert rows.plays[0].album_name == "\ufffd"


def test_a_lone_surrogate_in_an_id_is_refused_naming_the_field() -> None:
    page = page_2023()
    page["items"][0]["track"]["id"] = "bad\ud800id"
    with pytest.raises((MalformedRawObject, MalformedRecord), match=r"track\.id holds a lone surrogate"):
        recently_played_rows(page, "alice", KEY)
