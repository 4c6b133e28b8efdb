"""The simulator's artist albums and playlist endpoints, against the spec and Spotify's rules."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from spotify_pipeline.clock import ManualClock
from spotify_pipeline.simulator import Simulator, SimulatorConfig

from .conftest import START, api_client
from .test_conformance import spec_errors


def playlist_errors(body: dict[str, object], mode: str) -> list[str]:
    """The spec's errors for a playlist. Its items are ``oneOf`` track | episode with a discriminator
    whose values ("track") name no schema, which the validator cannot resolve: each item is checked
    against the track schema instead."""
    errors = [
        e
        for e in spec_errors("OnePlaylist", body, mode)
        if not re.match(r"(items|tracks)/items/\d+/item: ", e)
    ]
    page = body["items"]
    assert isinstance(page, dict)
    for entry in page["items"]:
        errors += spec_errors("OneTrack", entry["item"], mode)
    return errors


WRITE = ("user-read-recently-played", "user-follow-read", "playlist-modify-private")


@pytest.fixture(params=["development", "extended"])
def world(request: pytest.FixtureRequest) -> tuple[Simulator, httpx.Client, str]:
    sim = Simulator(SimulatorConfig(mode=request.param, structured_taste=True), clock=ManualClock(START))
    sim.add_user("alice", profile="typical")
    client = api_client(sim, sim.grant("alice", scopes=WRITE)["access_token"])
    request.addfinalizer(client.close)
    return sim, client, request.param


def _artist_with_releases(sim: Simulator) -> str:
    assert sim.releases is not None
    return next(a for a, rs in sim.releases.by_artist.items() if any(r.released_at < START for r in rs))


def test_artist_albums_page_as_the_spec_says_and_only_released_ones(
    world: tuple[Simulator, httpx.Client, str],
) -> None:
    sim, api, mode = world
    artist = _artist_with_releases(sim)
    r = api.get(f"/artists/{artist}/albums", params={"include_groups": "album,single", "limit": 10})
    assert r.status_code == 200
    body = r.json()
    assert spec_errors("PagingArtistDiscographyAlbumObject", body, mode) == []
    assert all(i["album_group"] in ("album", "single") for i in body["items"])
    assert all(i["release_date"] <= START.date().isoformat() for i in body["items"])
    groups = [i["album_group"] for i in body["items"]]
    assert groups == sorted(groups, key=("album", "single").index)  # albums first, then singles
    assert sim.releases is not None
    future = [x.album_id for x in sim.releases.by_artist[artist] if x.released_at > START]
    seen = {i["id"] for i in body["items"]}
    assert not seen & set(future)
    released = next(x for x in sim.releases.by_artist[artist] if x.released_at > START)
    sim.clock.set(released.released_at + timedelta(hours=1))  # type: ignore[attr-defined]
    with api_client(sim, sim.grant("alice")["access_token"]) as fresh:
        later = fresh.get(f"/artists/{artist}/albums", params={"include_groups": "album,single", "limit": 10})
        ids = [i["id"] for i in later.json()["items"]]
        if later.json()["next"]:
            ids += [i["id"] for i in fresh.get(later.json()["next"]).json()["items"]]
    assert released.album_id in ids


def test_artist_albums_limits_by_mode(world: tuple[Simulator, httpx.Client, str]) -> None:
    sim, api, mode = world
    artist = _artist_with_releases(sim)
    assert api.get(f"/artists/{artist}/albums").json()["limit"] == (5 if mode == "development" else 20)
    too_many = api.get(f"/artists/{artist}/albums", params={"limit": 11})
    assert too_many.status_code == (400 if mode == "development" else 200)
    assert api.get(f"/artists/{'0' * 22}/albums").status_code == 404
    assert api.get("/artists/not-an-id/albums").status_code == 400


def test_a_private_playlist_is_created_replaced_appended_and_read(
    world: tuple[Simulator, httpx.Client, str],
) -> None:
    sim, api, mode = world
    created = api.post("/me/playlists", json={"name": "Rediscover", "public": False, "description": "d"})
    assert created.status_code == 201
    assert playlist_errors(created.json(), mode) == []
    pid = created.json()["id"]
    tracks = [f"spotify:track:{t}" for t in list(sim.catalog.tracks)[:3]]
    replaced = api.put(f"/playlists/{pid}/items", json={"uris": tracks[:2]})
    assert replaced.status_code == 200 and spec_errors("PlaylistSnapshotId", replaced.json(), mode) == []
    again = api.put(f"/playlists/{pid}/items", json={"uris": tracks[:2]})
    assert again.status_code == 200  # replacing with the same list is harmless
    assert api.post(f"/playlists/{pid}/items", json={"uris": tracks[2:]}).status_code == 201
    got = api.get(f"/playlists/{pid}").json()
    assert playlist_errors(got, mode) == [] and got["items"]["items"]
    assert [i["item"]["uri"] for i in got["items"]["items"]] == tracks
    assert got["public"] is False
    assert ("tracks" in got) is (mode == "extended")  # deprecated: gone for Development Mode apps
    assert api.put(f"/playlists/{pid}/items", json={"uris": ["spotify:track:x" * 3]}).status_code == 400
    assert api.put(f"/playlists/{pid}/items", json={"uris": tracks * 40}).status_code == 400  # over 100


def test_a_deleted_playlist_answers_404(world: tuple[Simulator, httpx.Client, str]) -> None:
    sim, api, _mode = world
    pid = api.post("/me/playlists", json={"name": "x", "public": False}).json()["id"]
    sim.library.delete_playlist(pid)
    assert api.get(f"/playlists/{pid}").status_code == 404
    assert api.put(f"/playlists/{pid}/items", json={"uris": []}).status_code == 404


def test_writing_without_the_playlist_scope_is_403(world: tuple[Simulator, httpx.Client, str]) -> None:
    sim, api, _mode = world
    pid = api.post("/me/playlists", json={"name": "x", "public": False}).json()["id"]
    with api_client(sim, sim.grant("alice")["access_token"]) as plain:
        assert plain.post("/me/playlists", json={"name": "y", "public": False}).status_code == 403
        assert plain.put(f"/playlists/{pid}/items", json={"uris": []}).status_code == 403


def test_the_deprecated_user_playlists_endpoint_is_gone_in_development_mode(
    world: tuple[Simulator, httpx.Client, str],
) -> None:
    _sim, api, mode = world
    r = api.post("/users/alice/playlists", json={"name": "x", "public": False})
    assert r.status_code == (403 if mode == "development" else 201)


def test_the_flat_model_keeps_the_shared_catalog_and_its_numbers() -> None:
    flat = Simulator(SimulatorConfig(seed=7), clock=ManualClock(START))
    structured = Simulator(SimulatorConfig(seed=7, structured_taste=True), clock=ManualClock(START))
    assert flat.releases is None and flat.model.taste is None
    assert len(structured.catalog.albums) > len(flat.catalog.albums)  # releases live in its own copy
    assert set(flat.catalog.albums) < set(structured.catalog.albums)
    since = datetime(2026, 11, 1, tzinfo=UTC)
    flat.add_user("a", "typical", since=since)
    again = Simulator(SimulatorConfig(seed=7), clock=ManualClock(START))
    again.add_user("a", "typical", since=since)
    assert flat.truth("a", since, START) == again.truth("a", since, START)
