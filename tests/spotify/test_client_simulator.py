"""The client and login against the in-process simulator: real token rotation, real 403s of a
Development-Mode app, and the simulator's fault injection."""

from __future__ import annotations

import random
import threading
from datetime import timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from spotify_pipeline.clock import ManualClock
from spotify_pipeline.errors import AuthError, LoginRequired, QuotaExceeded, RateLimitPaused, SpotifyApiError
from spotify_pipeline.simulator import DEFAULT_REDIRECT_URI, Simulator, SimulatorConfig
from spotify_pipeline.spotify import auth
from spotify_pipeline.spotify.auth import login, token_from_grant
from spotify_pipeline.spotify.client import PAUSE_KEY, SpotifyClient
from spotify_pipeline.spotify.state import MemoryStateStore
from spotify_pipeline.spotify.tokens import MemoryTokenStore

from .conftest import START, settings

RP = "/v1/me/player/recently-played"


class Env:
    """A simulator with one listener logged in, and a way to build clients on it."""

    def __init__(self, mode: str = "development", pkce: bool = True, registered: bool = True) -> None:
        self.clock = ManualClock(START)
        self.sim = Simulator(SimulatorConfig(seed=7, mode=mode), clock=self.clock, sleep=lambda _s: None)
        self.sim.add_user("alice", profile="typical", registered=registered)
        self.app = self.sim.default_app
        self.pkce = pkce
        body = self.sim.grant("alice", pkce=pkce)
        self.store = MemoryTokenStore(token_from_grant(body, self.app.client_id, self.clock.now()))
        self.state = MemoryStateStore()
        self.sleeps: list[float] = []

    def settings(self, **overrides: Any) -> Any:
        secret = None if self.pkce else SecretStr(self.app.client_secret)
        return settings(
            client_id=self.app.client_id, client_secret=secret, redirect_uri=DEFAULT_REDIRECT_URI, **overrides
        )

    def client(self, **overrides: Any) -> SpotifyClient:
        return SpotifyClient.from_settings(
            self.settings(**overrides),
            self.store,
            self.state,
            clock=self.clock,
            transport=self.sim.transport(),
            sleep=self.sleeps.append,
            rng=random.Random(1),
        )

    def api_calls(self) -> list[tuple[str, str, int | None]]:
        return [(c.method, c.path, c.status) for c in self.sim.calls]


@pytest.fixture()
def env() -> Env:
    return Env()


def test_recently_played_and_all_followed_artist_pages(env: Env) -> None:
    client = env.client()
    page, meta = client.recently_played()
    assert page["limit"] == 50 and 0 < len(page["items"]) <= 50
    assert meta.request == "GET /v1/me/player/recently-played?limit=50" and meta.status == 200

    pages = client.followed_artists(limit=5)
    items = [a for p, _ in pages for a in p["artists"]["items"]]
    assert len({a["id"] for a in items}) == len(items)
    assert pages[-1][0]["artists"]["next"] is None
    assert sum(client.calls.values()) == len(env.sim.calls)


def test_pkce_rotation_on_401_saves_the_new_refresh_token(env: Env) -> None:
    client = env.client()
    client.recently_played()
    old = env.store.load()
    assert old is not None
    env.sim.expire_access_tokens()  # the server says 401 before our clock thinks it expired

    client.recently_played()
    new = env.store.load()
    assert new is not None and new.refresh_token != old.refresh_token and new.consented_at == old.consented_at
    assert [c[2] for c in env.api_calls()][-3:] == [401, 200, 200]
    # The old refresh token is now spent, as on Spotify.
    with pytest.raises(LoginRequired, match="revoked"), httpx.Client(transport=env.sim.transport()) as http:
        auth.refresh(http, "https://accounts.spotify.com", old, None, env.clock.now())


def test_confidential_refresh_before_expiry_keeps_the_refresh_token() -> None:
    env = Env(pkce=False)
    before = env.store.load()
    env.clock.advance(timedelta(hours=2))
    client = env.client()
    client.recently_played()
    after = env.store.load()
    assert before is not None and after is not None
    assert after.refresh_token == before.refresh_token and after.access_token != before.access_token
    assert client.calls["POST /api/token"] == 1


def test_a_revoked_refresh_token_means_log_in_again(env: Env) -> None:
    token = env.store.load()
    assert token is not None
    env.sim.revoke_refresh_token(token.refresh_token.get_secret_value())
    env.clock.advance(timedelta(hours=2))
    with pytest.raises(LoginRequired, match="revoked"):
        env.client().recently_played()
    assert env.store.load() is None


def test_the_six_month_life_ends_in_login_required(env: Env) -> None:
    env.clock.advance(timedelta(days=183))
    with pytest.raises(LoginRequired, match="expired"):
        env.client().recently_played()


def test_5xx_burst_timeouts_and_drops_are_retried(env: Env) -> None:
    env.sim.faults.add(kind="status", status=503, path_prefix=RP, count=2)
    env.sim.faults.add(kind="timeout", path_prefix=RP, count=1)
    env.sim.faults.add(kind="drop", path_prefix=RP, count=1)
    page, _ = env.client(max_retries=5).recently_played()
    assert page["items"] and len(env.sleeps) == 4


def test_malformed_then_exhausted(env: Env) -> None:
    env.sim.faults.add(kind="malformed", path_prefix=RP, count=None)
    with pytest.raises(SpotifyApiError, match="not valid JSON"):
        env.client(max_retries=2).recently_played()


def test_short_rate_limit_waits(env: Env) -> None:
    env.sim.faults.add(kind="rate_limit", path_prefix=RP, count=1, retry_after=3)
    env.client().recently_played()
    assert env.sleeps == [3.0] and env.state.get(PAUSE_KEY) is None


@pytest.mark.parametrize(
    ("kind", "error", "hours"),
    [
        ("penalty", RateLimitPaused, 24),
        ("rate_limit_no_header", RateLimitPaused, 1),
        ("quota", QuotaExceeded, 24),
    ],
)
def test_long_pauses_are_recorded_and_respected(
    env: Env, kind: str, error: type[Exception], hours: int
) -> None:
    env.sim.faults.add(kind=kind, path_prefix=RP, count=1)
    with pytest.raises(error) as err:
        env.client().recently_played()
    assert isinstance(err.value, RateLimitPaused)
    assert err.value.until == env.clock.now() + timedelta(hours=hours)
    served = len(env.sim.calls)
    env.clock.advance(timedelta(minutes=50))
    with pytest.raises(error):
        env.client().followed_artists()
    assert len(env.sim.calls) == served and env.sleeps == []


def test_development_mode_capabilities_are_learned_once(env: Env) -> None:
    page, _ = env.client().recently_played()
    artist_ids = list(dict.fromkeys(a["id"] for i in page["items"] for a in i["track"]["artists"]))[:5]
    track_ids = [i["track"]["id"] for i in page["items"]][:5]

    first = env.client()
    artists = first.artists(artist_ids)
    assert set(artists) == set(artist_ids) and all(artists.values())
    assert first.audio_features(track_ids) is None
    assert first.calls["GET /v1/artists"] == 1 and first.calls["GET /v1/audio-features"] == 1

    second = env.client()
    assert second.artists(artist_ids) == artists
    assert second.audio_features(track_ids) is None
    assert "GET /v1/artists" not in second.calls and "GET /v1/audio-features" not in second.calls
    assert second.calls["GET /v1/artists/{id}"] == len(artist_ids)


def test_extended_mode_uses_batches() -> None:
    env = Env(mode="extended")
    page, _ = env.client().recently_played()
    track_ids = list(dict.fromkeys(i["track"]["id"] for i in page["items"]))
    client = env.client()
    tracks = client.tracks(track_ids)
    features = client.audio_features(track_ids)
    assert set(tracks) == set(track_ids) and features is not None and set(features) == set(track_ids)
    assert "GET /v1/tracks/{id}" not in client.calls


def test_single_lookup_of_an_unknown_id_is_none(env: Env) -> None:
    assert env.client().artist("0000000000000000000000") is None


def test_an_unregistered_user_is_told_about_the_allowlist() -> None:
    env = Env(registered=False)
    with pytest.raises(AuthError, match="Developer Dashboard"):
        env.client().recently_played()


def test_login_without_a_browser_against_the_simulator(env: Env) -> None:
    echoed: list[str] = []

    def paste(_question: str) -> str:
        url = next(
            w for line in echoed for w in line.split() if w.startswith("https://accounts.spotify.com/")
        )
        with httpx.Client(transport=env.sim.transport()) as browser:
            return browser.get(url).headers["location"]

    store = MemoryTokenStore()
    token = login(
        env.settings(),
        store,
        open_browser=False,
        prompt=paste,
        echo=echoed.append,
        clock=env.clock,
        transport=env.sim.transport(),
    )
    assert store.load() == token and token.scopes >= {"user-read-recently-played", "user-follow-read"}
    env.store = store
    assert env.client().recently_played()[0]["items"]


def test_login_with_the_browser_flow_against_the_simulator(env: Env) -> None:
    app = env.sim.register_app(["http://127.0.0.1/callback"])  # port-less: any loopback port is accepted
    done: list[int] = []
    visits: list[threading.Thread] = []

    def browser(url: str) -> bool:
        def visit() -> None:
            with httpx.Client(transport=env.sim.transport()) as consent:
                location = consent.get(url).headers["location"]
            with httpx.Client() as real:
                done.append(real.get(location).status_code)

        visits.append(threading.Thread(target=visit, daemon=True))
        visits[-1].start()
        return True

    store = MemoryTokenStore()
    login(
        settings(client_id=app.client_id, redirect_uri="http://127.0.0.1/callback"),
        store,
        open_browser=True,
        prompt=lambda _q: "",
        echo=lambda _l: None,
        clock=env.clock,
        transport=env.sim.transport(),
        browser=browser,
        callback_timeout=10,
    )
    # login returns once the callback arrived; the browser gets its page a moment later
    visits[0].join(timeout=10)
    assert done == [200] and store.load() is not None


def test_access_denied_from_the_simulator() -> None:
    clock = ManualClock(START)
    sim = Simulator(SimulatorConfig(seed=7, deny_authorize=True), clock=clock)
    sim.add_user("alice")
    echoed: list[str] = []

    def paste(_question: str) -> str:
        url = next(
            w for line in echoed for w in line.split() if w.startswith("https://accounts.spotify.com/")
        )
        with httpx.Client(transport=sim.transport()) as browser:
            return browser.get(url).headers["location"]

    with pytest.raises(AuthError, match="declined"):
        login(
            settings(client_id=sim.default_app.client_id),
            MemoryTokenStore(),
            open_browser=False,
            prompt=paste,
            echo=echoed.append,
            clock=clock,
            transport=sim.transport(),
        )
