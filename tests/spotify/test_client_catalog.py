"""Paging, batch lookups with remembered capabilities, single lookups, audio features, search."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from tests.conftest import load_fixture

from spotify_pipeline.clock import ManualClock
from spotify_pipeline.errors import PagingLoopError, PipelineError
from spotify_pipeline.spotify.capabilities import RECHECK_AFTER, state_key
from spotify_pipeline.spotify.client import SpotifyClient
from spotify_pipeline.spotify.paging import same_origin
from spotify_pipeline.spotify.state import MemoryStateStore

from .conftest import CLIENT_ID, FakeSpotify, reply

Build = Callable[..., SpotifyClient]
FOLLOWING = "/v1/me/following"


def api_calls(client: SpotifyClient) -> dict[str, int]:
    """Web API calls only (a day later the token needs a refresh, which is counted too)."""
    return {k: v for k, v in client.calls.items() if k.startswith("GET ")}


def following_page(ids: list[str], after: str | None, next_url: str | None) -> dict[str, Any]:
    page = copy.deepcopy(load_fixture("api/following-artists.json"))
    template = page["artists"]["items"][0]
    page["artists"]["items"] = [{**template, "id": i, "uri": f"spotify:artist:{i}"} for i in ids]
    page["artists"]["cursors"] = {"after": after}
    page["artists"]["next"] = next_url
    return page


def test_followed_artists_follows_next_until_the_end(fake: FakeSpotify, make_client: Build) -> None:
    first = load_fixture("api/following-artists.json")  # real page; its `next` uses the legacy path
    last = load_fixture("api/following-artists_empty.json")
    fake.on("GET", FOLLOWING, reply(body=first))
    fake.on("GET", "/v1/users/thelinmichael/following", reply(body=last))
    client = make_client()
    pages = client.followed_artists()

    assert [p for p, _ in pages] == [first, last]
    assert pages[0][1].request == "GET /v1/me/following?type=artist&limit=50"
    assert (
        pages[1][1].request
        == "GET /v1/users/thelinmichael/following?type=artist&after=0aV6DOiouImYTqrR5YlIqx&limit=20"
    )
    assert dict(fake.requests[1].url.params) == {
        "type": "artist",
        "after": "0aV6DOiouImYTqrR5YlIqx",
        "limit": "20",
    }
    assert client.calls["GET /v1/me/following"] == 2


def test_a_repeated_cursor_stops_paging(fake: FakeSpotify, make_client: Build) -> None:
    nxt = "https://api.spotify.com/v1/me/following?type=artist&after=AAA&limit=50"
    fake.on("GET", FOLLOWING, reply(body=following_page(["AAA"], "AAA", nxt)))
    with pytest.raises(PagingLoopError) as err:
        make_client().followed_artists()
    assert "'AAA'" in str(err.value) and "loop" in str(err.value)
    assert fake.count("GET", FOLLOWING) == 2


@pytest.mark.parametrize(
    "next_url",
    [
        "https://evil.example.com/v1/me/following?after=AAA",
        "http://api.spotify.com/v1/me/following?after=AAA",  # downgraded scheme
        "https://api.spotify.com:8443/v1/me/following?after=AAA",
        "https://api.spotify.com.evil.example/v1/me/following?after=AAA",
        "https://user@api.spotify.com/v1/me/following?after=AAA",
        "https://api.spotify.com/oauth/steal?after=AAA",  # off the /v1 base path
    ],
)
def test_next_off_the_api_origin_is_refused(fake: FakeSpotify, make_client: Build, next_url: str) -> None:
    fake.on("GET", FOLLOWING, reply(body=following_page(["AAA"], "AAA", next_url)))
    with pytest.raises(PipelineError) as err:
        make_client().followed_artists()
    assert "off the API origin" in str(err.value)
    assert len(fake.requests) == 1  # the token never went anywhere else


def test_same_origin() -> None:
    assert same_origin("https://api.spotify.com/v1/me?x=1", "https://api.spotify.com/v1")
    assert same_origin("http://127.0.0.1:5000/v1/me", "http://127.0.0.1:5000/v1/")
    assert not same_origin("http://127.0.0.1:5001/v1/me", "http://127.0.0.1:5000/v1")


def test_single_lookups_return_none_on_404(fake: FakeSpotify, make_client: Build) -> None:
    track = load_fixture("api/track_single.json")
    fake.on("GET", f"/v1/tracks/{track['id']}", reply(body=track))
    fake.on(
        "GET", "/v1/artists/0000000000000000000000", reply(404, fixture="errors/404_non_existing_id.json")
    )
    fake.on("GET", "/v1/albums/not-an-id", reply(400, fixture="errors/400_invalid_id.json"))
    client = make_client()
    assert client.track(track["id"]) == track
    assert client.artist("0000000000000000000000") is None
    assert client.album("not-an-id") is None
    assert set(client.calls) == {"GET /v1/tracks/{id}", "GET /v1/artists/{id}", "GET /v1/albums/{id}"}


def test_an_id_cannot_change_the_path(fake: FakeSpotify, make_client: Build) -> None:
    make_client().artist("../me")
    assert fake.requests[0].url.raw_path == b"/v1/artists/..%2Fme"


def test_batch_artists_maps_by_position_with_null_for_unknown(fake: FakeSpotify, make_client: Build) -> None:
    real = load_fixture("api/artists_several.json")["artists"]
    ids = [a["id"] for a in real] + ["0000000000000000000000"]
    fake.on("GET", "/v1/artists", reply(body={"artists": [*real, None]}))
    client = make_client()
    out = client.artists([*ids, ids[0]])  # duplicates are asked once

    assert out == {**{a["id"]: a for a in real}, "0000000000000000000000": None}
    assert dict(fake.requests[0].url.params)["ids"] == ",".join(ids)
    assert client.calls == {"GET /v1/artists": 1}


def test_batches_are_cut_at_the_documented_size(fake: FakeSpotify, make_client: Build) -> None:
    def echo(kind: str) -> Callable[[httpx.Request], httpx.Response]:
        def respond(request: httpx.Request) -> httpx.Response:
            ids = request.url.params["ids"].split(",")
            return httpx.Response(200, json={kind: [{"id": i} for i in ids]})

        return respond

    fake.on("GET", "/v1/albums", echo("albums"))
    fake.on("GET", "/v1/tracks", echo("tracks"))
    ids = [f"{n:022d}" for n in range(45)]
    client = make_client()
    assert list(client.albums(ids)) == ids
    assert list(client.tracks(ids + [f"{n:022d}" for n in range(45, 101)])) == [
        f"{n:022d}" for n in range(101)
    ]
    sizes = [len(r.url.params["ids"].split(",")) for r in fake.requests]
    assert sizes == [20, 20, 5, 50, 50, 1]


def test_a_403_on_a_batch_is_remembered_and_never_asked_again(
    fake: FakeSpotify, make_client: Build, state: MemoryStateStore, clock: ManualClock
) -> None:
    real = load_fixture("api/artists_several.json")["artists"]
    fake.on("GET", "/v1/artists", reply(403, fixture="errors/403_forbidden_devmode_removed_endpoint.json"))
    for artist in real:
        fake.on("GET", f"/v1/artists/{artist['id']}", reply(body=artist))
    ids = [a["id"] for a in real]

    first = make_client()
    assert first.artists(ids) == {a["id"]: a for a in real}
    assert first.calls == {"GET /v1/artists": 1, "GET /v1/artists/{id}": len(ids)}
    stored = state.get(state_key(CLIENT_ID))
    assert stored is not None and stored["denied"]["artists_batch"]["status"] == 403

    # Second run (new client, same state store): zero batch calls.
    clock.advance(timedelta(days=1))
    second = make_client()
    assert second.artists(ids) == {a["id"]: a for a in real}
    assert api_calls(second) == {"GET /v1/artists/{id}": len(ids)}
    assert fake.count("GET", "/v1/artists") == 1


def test_a_remembered_denial_is_probed_again_after_a_month(
    fake: FakeSpotify, make_client: Build, state: MemoryStateStore, clock: ManualClock
) -> None:
    real = load_fixture("api/albums_several.json")["albums"]
    fake.on("GET", "/v1/albums", reply(403, fixture="errors/403_forbidden_devmode_removed_endpoint.json"))
    for album in real:
        fake.on("GET", f"/v1/albums/{album['id']}", reply(body=album))
    make_client().albums([a["id"] for a in real])
    fake.on("GET", "/v1/albums", reply(body={"albums": real}))  # the app got extended quota
    clock.advance(RECHECK_AFTER)
    client = make_client()
    client.albums([a["id"] for a in real])
    assert api_calls(client) == {"GET /v1/albums": 1}
    assert "albums_batch" not in (state.get(state_key(CLIENT_ID)) or {}).get("denied", {})


def test_a_400_batch_falls_back_to_single_lookups(
    fake: FakeSpotify, make_client: Build, state: MemoryStateStore
) -> None:
    fake.on("GET", "/v1/artists", reply(400, fixture="errors/400_invalid_id.json"))
    fake.on("GET", "/v1/artists/good0000000000000000000", reply(body={"id": "good0000000000000000000"}))
    fake.on("GET", "/v1/artists/bad", reply(400, fixture="errors/400_invalid_id.json"))
    out = make_client().artists(["good0000000000000000000", "bad"])
    assert out == {"good0000000000000000000": {"id": "good0000000000000000000"}, "bad": None}
    assert state.get(state_key(CLIENT_ID)) is None  # a 400 says nothing about the app


def test_audio_features_available(fake: FakeSpotify, make_client: Build) -> None:
    body = load_fixture("api/audio-features_several.json")
    ids = [f["id"] for f in body["audio_features"]]
    fake.on("GET", "/v1/audio-features", reply(body=body))
    assert make_client().audio_features(ids) == {f["id"]: f for f in body["audio_features"]}


def test_audio_features_403_means_unavailable_from_then_on(fake: FakeSpotify, make_client: Build) -> None:
    fake.on("GET", "/v1/audio-features", reply(403, fixture="errors/403_no_message_audio_features_2024.json"))
    assert make_client().audio_features(["4JpKVNYnVcJ8tuMKjAj50A"]) is None
    client = make_client()
    assert client.audio_features(["4JpKVNYnVcJ8tuMKjAj50A"]) is None
    assert client.calls == {} and fake.count("GET", "/v1/audio-features") == 1


def _search_result(*tracks: tuple[str, str, str]) -> dict[str, Any]:
    return {"tracks": {"items": [{"id": i, "name": n, "artists": [{"name": a}]} for i, n, a in tracks]}}


def test_search_track_prefers_the_exact_title_by_that_artist(fake: FakeSpotify, make_client: Build) -> None:
    fake.on(
        "GET",
        "/v1/search",
        reply(
            body=_search_result(
                ("cover", "Clair de lune", "Someone Else"),
                ("remaster", "Clair de Lune - 2011 Remaster", "Claude Debussy"),
                ("exact", "Clair de lune", "Claude Debussy"),
            )
        ),
    )
    client = make_client()
    assert client.search_track("Clair de lune", "Claude Debussy") == "exact"
    params = dict(fake.requests[0].url.params)
    assert params == {"q": "track:Clair de lune artist:Claude Debussy", "type": "track", "limit": "5"}


def test_search_track_compares_names_as_export_matching_does(fake: FakeSpotify, make_client: Build) -> None:
    # One normaliser (transform/names.py): accents, case and "feat." parts do not make a title differ.
    fake.on(
        "GET",
        "/v1/search",
        reply(
            body=_search_result(
                ("live", "Drunk in Love (Live)", "Beyoncé"),
                ("studio", "Drunk in Love (feat. JAY-Z)", "Beyoncé"),
            )
        ),
    )
    assert make_client().search_track("Drunk In Love", "BEYONCE") == "studio"


def test_search_track_without_that_artist_is_none(fake: FakeSpotify, make_client: Build) -> None:
    fake.on("GET", "/v1/search", reply(body=_search_result(("x", "Song", "Other"))))
    assert make_client().search_track("Song", "Artist") is None


def test_a_page_that_is_json_but_not_an_object_is_an_error(fake: FakeSpotify, make_client: Build) -> None:
    fake.on("GET", "/v1/me", reply(text=json.dumps([1, 2])))
    with pytest.raises(PipelineError) as err:
        make_client().me()
    assert "GET /v1/me" in str(err.value)
