"""api.spotify.com/v1 through an httpx client on the in-process transport."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from tests.conftest import load_fixture

from spotify_pipeline.clock import ManualClock, to_ms
from spotify_pipeline.simulator import Simulator, SimulatorConfig

from .conftest import API, START, api_client


def played_ms(item: dict) -> int:
    return to_ms(_parse(item["played_at"]))


def _parse(text: str):  # noqa: ANN202 - tiny local helper
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# --- tokens and the allowlist --------------------------------------------------------------------


def test_missing_and_invalid_tokens_answer_401_with_www_authenticate(http: httpx.Client) -> None:
    missing = http.get(f"{API}/me/player/recently-played")
    assert missing.status_code == 401
    assert missing.json() == load_fixture("errors/401_missing_invalid_expired_token_2026.json")
    assert missing.headers["WWW-Authenticate"] == 'Bearer realm="spotify", error="missing_token"'
    invalid = http.get(f"{API}/me", headers={"Authorization": "Bearer not-a-token"})
    assert invalid.status_code == 401
    assert invalid.headers["WWW-Authenticate"] == 'Bearer realm="spotify", error="invalid_token"'


def test_unregistered_user_gets_the_plain_text_403(sim: Simulator) -> None:
    sim.add_user("mallory", registered=False)
    with api_client(sim, sim.grant("mallory")["access_token"]) as client:
        resp = client.get("/me/player/recently-played")
    assert resp.status_code == 403
    assert resp.headers["Content-Type"].startswith("text/plain")
    assert resp.text == load_fixture("errors/403_user_not_registered.txt").strip()
    sim.set_mode("extended")  # Extended Quota Mode has no allowlist
    with api_client(sim, sim.grant("mallory")["access_token"]) as client:
        assert client.get("/me/player/recently-played").status_code == 200


def test_development_mode_allows_five_registered_users(sim: Simulator) -> None:
    for name in ("b", "c", "d", "e"):
        sim.add_user(name)
    with pytest.raises(ValueError, match="at most 5 users"):
        sim.add_user("f")
    sim.add_user("f", registered=False)


def test_missing_scope_is_403_insufficient_client_scope(sim: Simulator) -> None:
    token = sim.grant("alice", scopes=("user-follow-read",))["access_token"]
    with api_client(sim, token) as client:
        resp = client.get("/me/player/recently-played")
        assert resp.status_code == 403
        assert resp.json() == {"error": {"status": 403, "message": "Insufficient client scope"}}
        assert client.get("/me/following", params={"type": "artist"}).status_code == 200


# --- recently played ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params", [{"limit": "0"}, {"limit": "51"}, {"limit": "ten"}, {"after": "1", "before": "2"}]
)
def test_recently_played_rejects_bad_parameters(api: httpx.Client, params: dict[str, str]) -> None:
    resp = api.get("/me/player/recently-played", params=params)
    assert resp.status_code == 400
    assert resp.json()["error"]["status"] == 400


def test_recently_played_is_the_latest_50_visible_plays_newest_first(
    api: httpx.Client, sim: Simulator, clock: ManualClock
) -> None:
    truth = sim.api_visible_truth("alice", START - timedelta(days=30), clock.now())
    expected = sorted(truth, key=lambda p: p.ended_at, reverse=True)[:50]
    page = api.get("/me/player/recently-played", params={"limit": 50}).json()
    assert "total" not in page
    assert [played_ms(i) for i in page["items"]] == [to_ms(p.ended_at) for p in expected]
    assert [i["track"]["id"] for i in page["items"]] == [p.track_id for p in expected]
    assert page["cursors"] == {
        "after": str(to_ms(expected[0].ended_at)),
        "before": str(to_ms(expected[-1].ended_at)),
    }
    assert page["next"] == f"{API}/me/player/recently-played?before={page['cursors']['before']}&limit=50"
    assert page["href"] == f"{API}/me/player/recently-played?limit=50"
    # The 51st play exists but is out of reach: paging past the window gives Spotify's empty page.
    assert len(truth) > 50
    beyond = api.get(page["next"]).json()
    assert beyond == {"items": [], "next": None, "cursors": None, "limit": 50, "href": page["next"]}


def test_recently_played_hides_short_private_and_podcast_plays(sim: Simulator, clock: ManualClock) -> None:
    every = sim.truth("alice", START - timedelta(days=30), START)
    kinds = {
        "podcast": [p for p in every if p.kind == "podcast"],
        "private": [p for p in every if p.kind == "music" and p.private_session],
        "short": [p for p in every if p.kind == "music" and p.ms_played < 30_000],
    }
    assert all(kinds.values()), {k: len(v) for k, v in kinds.items()}
    for plays in kinds.values():
        # Stand just after each hidden play ended: it must not be the newest item of the feed.
        for play in plays[-3:]:
            clock.set(play.ended_at + timedelta(seconds=1))
            shown = latest_played(sim)
            assert to_ms(play.ended_at) not in shown
            assert shown and max(shown) < to_ms(play.ended_at)


def test_paging_back_with_next_and_carrying_extra_parameters(api: httpx.Client) -> None:
    first = api.get("/me/player/recently-played", params={"limit": 20, "type": "track"}).json()
    assert first["href"] == f"{API}/me/player/recently-played?limit=20&type=track"
    assert first["next"].endswith(f"?before={first['cursors']['before']}&limit=20&type=track")
    seen: list[int] = []
    url: str | None = first["next"]
    seen += [played_ms(i) for i in first["items"]]
    while url:
        page = api.get(url).json()
        seen += [played_ms(i) for i in page["items"]]
        url = page["next"]
    assert len(seen) == 50 and seen == sorted(seen, reverse=True) and len(set(seen)) == 50


def test_after_and_before_are_exclusive(api: httpx.Client) -> None:
    page = api.get("/me/player/recently-played", params={"limit": 5}).json()
    newest, second = played_ms(page["items"][0]), played_ms(page["items"][1])
    after = api.get("/me/player/recently-played", params={"after": second}).json()
    assert [played_ms(i) for i in after["items"]] == [newest]
    none_newer = api.get("/me/player/recently-played", params={"after": newest}).json()
    assert none_newer["items"] == [] and none_newer["cursors"] is None and none_newer["next"] is None
    before = api.get("/me/player/recently-played", params={"before": newest, "limit": 1}).json()
    assert [played_ms(i) for i in before["items"]] == [second]


def latest_played(sim: Simulator, limit: int = 50) -> list[int]:
    """played_at (ms) of the feed's page, with a fresh token (the clock may have jumped hours)."""
    token = sim.grant("alice", scopes=("user-read-recently-played",))["access_token"]
    with api_client(sim, token) as client:
        return [
            played_ms(i)
            for i in client.get("/me/player/recently-played", params={"limit": limit}).json()["items"]
        ]


def test_a_play_appears_only_after_it_ended(sim: Simulator, clock: ManualClock) -> None:
    upcoming = sim.api_visible_truth("alice", clock.now(), clock.now() + timedelta(days=2))[0]
    clock.set(upcoming.ended_at - timedelta(milliseconds=1))
    assert latest_played(sim, 1)[0] < to_ms(upcoming.ended_at)
    clock.set(upcoming.ended_at)
    assert latest_played(sim, 1) == [to_ms(upcoming.ended_at)]


def test_late_plays_arrive_after_newer_ones(clock: ManualClock) -> None:
    sim = Simulator(SimulatorConfig(late_share=0.5), clock=clock)
    sim.add_user("alice", profile="heavy")
    late = next(
        p
        for p in sim.api_visible_truth("alice", START, START + timedelta(days=3))
        if p.available_at > p.ended_at + timedelta(minutes=5)
    )
    clock.set(late.ended_at + timedelta(seconds=1))
    assert to_ms(late.ended_at) not in latest_played(sim)
    clock.set(late.available_at)
    shown = latest_played(sim)
    assert to_ms(late.ended_at) in shown
    assert shown.index(to_ms(late.ended_at)) > 0  # newer plays were already there: it arrived out of order


# --- followed artists -----------------------------------------------------------------------------


def test_following_pages_by_artist_id(api: httpx.Client, sim: Simulator, clock: ManualClock) -> None:
    expected = sim.model.followed_artists("alice", clock.now())
    assert len(expected) > 3
    got: list[str] = []
    url: str | None = f"{API}/me/following?type=artist&limit=2"
    pages = 0
    while url:
        body = api.get(url).json()["artists"]
        assert body["total"] == len(expected) and body["limit"] == 2
        got += [a["id"] for a in body["items"]]
        if body["next"]:
            assert body["cursors"]["after"] == body["items"][-1]["id"]
            assert parse_qs(urlsplit(body["next"]).query) == {
                "type": ["artist"],
                "after": [body["cursors"]["after"]],
                "limit": ["2"],
            }
        else:
            assert body["cursors"] == {"after": None}
        url = body["next"]
        pages += 1
    assert got == sorted(expected) and pages == (len(expected) + 1) // 2


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "No type given"),
        ({"type": "user"}, "Invalid type: user"),
        ({"type": "artist", "limit": "51"}, "Invalid limit"),
    ],
)
def test_following_parameter_errors(api: httpx.Client, params: dict[str, str], message: str) -> None:
    resp = api.get("/me/following", params=params)
    assert (resp.status_code, resp.json()) == (400, {"error": {"status": 400, "message": message}})


# --- me and catalog -------------------------------------------------------------------------------


def test_me_in_development_and_extended_mode(sim: Simulator) -> None:
    scopes = ("user-read-private", "user-read-email")
    with api_client(sim, sim.grant("alice", scopes=scopes)["access_token"]) as client:
        dev = client.get("/me").json()
        sim.set_mode("extended")
        ext = client.get("/me").json()
    removed = {"country", "email", "explicit_content", "followers", "product"}
    assert not removed & set(dev) and dev["account_id"] and dev["id"] == "alice"
    assert removed <= set(ext)


def test_single_lookups(api: httpx.Client, sim: Simulator) -> None:
    track_id = next(iter(sim.catalog.tracks))
    track = api.get(f"/tracks/{track_id}").json()
    assert track["id"] == track_id and "popularity" not in track and "available_markets" not in track
    artist_id = track["artists"][0]["id"]
    artist = api.get(f"/artists/{artist_id}").json()
    assert artist["genres"] == [] and "followers" not in artist
    album = api.get(f"/albums/{track['album']['id']}").json()
    assert "label" not in album and album["tracks"]["items"]
    unknown = api.get("/tracks/" + "0" * 22)
    assert (unknown.status_code, unknown.json()) == (404, load_fixture("errors/404_non_existing_id.json"))
    malformed = api.get("/artists/not-an-id")
    assert (malformed.status_code, malformed.json()) == (400, load_fixture("errors/400_invalid_id.json"))


@pytest.mark.parametrize("path", ["/tracks", "/artists", "/albums"])
def test_batch_endpoints_are_forbidden_in_development_mode(
    api: httpx.Client, sim: Simulator, path: str
) -> None:
    resp = api.get(path, params={"ids": next(iter(sim.catalog.tracks))})
    assert (resp.status_code, resp.json()) == (
        403,
        load_fixture("errors/403_forbidden_devmode_removed_endpoint.json"),
    )


def test_audio_features_forbidden_without_message_in_development_mode(
    api: httpx.Client, sim: Simulator
) -> None:
    resp = api.get("/audio-features", params={"ids": next(iter(sim.catalog.tracks))})
    assert (resp.status_code, resp.json()) == (
        403,
        load_fixture("errors/403_no_message_audio_features_2024.json"),
    )


@pytest.mark.parametrize(("path", "key", "limit"), [("/tracks", "tracks", 50), ("/artists", "artists", 50),
                                                    ("/albums", "albums", 20), ("/audio-features", "audio_features", 100)])  # fmt: skip
def test_batch_endpoints_in_extended_mode(
    api: httpx.Client, sim: Simulator, path: str, key: str, limit: int
) -> None:
    sim.set_mode("extended")
    pool = {"tracks": sim.catalog.tracks, "artists": sim.catalog.artists, "albums": sim.catalog.albums}
    known = list(pool.get(key, sim.catalog.tracks))[: limit - 1]
    body = api.get(path, params={"ids": ",".join([*known, "0" * 22])}).json()
    assert [x["id"] for x in body[key][:-1]] == known and body[key][-1] is None
    too_many = api.get(path, params={"ids": ",".join(["0" * 22] * (limit + 1))})
    assert (too_many.status_code, too_many.json()) == (400, load_fixture("errors/400_too_many_ids.json"))


def test_search_limits_by_mode(api: httpx.Client, sim: Simulator) -> None:
    name = next(iter(sim.catalog.tracks.values())).name
    dev = api.get("/search", params={"q": name, "type": "track"}).json()["tracks"]
    assert dev["limit"] == 5 and dev["items"][0]["name"] == name
    assert api.get("/search", params={"q": name, "type": "track", "limit": 11}).status_code == 400
    sim.set_mode("extended")
    ext = api.get("/search", params={"q": name, "type": "track"}).json()["tracks"]
    assert ext["limit"] == 20
    assert api.get("/search", params={"q": name, "type": "track", "limit": 50}).status_code == 200
    assert api.get("/search", params={"type": "track"}).json() == {
        "error": {"status": 400, "message": "No search query"}
    }


# --- rate limit and call log ----------------------------------------------------------------------


def test_rolling_window_rate_limit(clock: ManualClock) -> None:
    sim = Simulator(SimulatorConfig(rate_limit_per_30s=5), clock=clock)
    sim.add_user("alice")
    with api_client(sim, sim.grant("alice")["access_token"]) as client:
        for _ in range(3):
            assert client.get("/me").status_code == 200
        clock.advance(10)
        for _ in range(2):
            assert client.get("/me").status_code == 200
        limited = client.get("/me")
        assert limited.status_code == 429
        assert limited.json() == load_fixture("errors/429_rate_limited.json")
        assert limited.headers["Retry-After"] == "20"  # the first 3 calls leave the window in 20 s
        clock.advance(20)
        assert client.get("/me").status_code == 200
    other_app = sim.register_app(["http://127.0.0.1:9000/cb"])  # budgets are per app
    with api_client(sim, sim.grant("alice", client_id=other_app.client_id)["access_token"]) as client:
        assert client.get("/me").status_code == 200


def test_every_request_is_logged(api: httpx.Client, sim: Simulator, http: httpx.Client) -> None:
    sim.clear_calls()
    api.get("/me")
    api.get("/tracks/bad")
    http.get(f"{API}/me")
    calls = sim.calls
    assert [(c.method, c.path, c.status) for c in calls] == [
        ("GET", "/v1/me", 200),
        ("GET", "/v1/tracks/bad", 400),
        ("GET", "/v1/me", 401),
    ]
    assert calls[0].client_id == sim.default_app.client_id and calls[2].client_id is None


def test_unknown_endpoint(api: httpx.Client) -> None:
    resp = api.get("/me/player/nonsense")
    assert (resp.status_code, resp.json()) == (
        404,
        {"error": {"status": 404, "message": "Service not found"}},
    )
