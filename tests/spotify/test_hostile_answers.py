"""Answers a tester would send: absurd Retry-After values, a host that does not answer, a pause
stored by an older version that lasts for millennia."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from spotify_pipeline.clock import ManualClock
from spotify_pipeline.errors import RateLimitPaused, SpotifyUnreachable
from spotify_pipeline.spotify.client import SpotifyClient
from spotify_pipeline.spotify.pause import PAUSE_KEY, clear_pause, read_pause
from spotify_pipeline.spotify.retry import retry_after_seconds
from spotify_pipeline.spotify.state import MemoryStateStore

from .conftest import FakeSpotify, reply

RP = "/v1/me/player/recently-played"
Build = Callable[..., SpotifyClient]
NOW = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("5", 5.0),
        ("-30", 0.0),
        ("inf", None),
        ("-inf", None),
        ("nan", None),
        ("1e400", None),
        ("garbage", None),
        ("", None),
        (
            "Fri, 31 Dec 9999 23:59:59 GMT",
            (datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC) - NOW).total_seconds(),
        ),
        ("Mon, 99 Foo 2026 99:99:99 GMT", None),
    ],
)
def test_retry_after_is_parsed_defensively(value: str, expected: float | None) -> None:
    assert retry_after_seconds(httpx.Headers({"Retry-After": value}), NOW) == expected


@pytest.mark.parametrize(
    "value", ["inf", "1e20", "99999999999", "Fri, 31 Dec 9999 23:59:59 GMT", "nan", "garbage", "-5e300"]
)
def test_an_absurd_retry_after_pauses_a_day_at_most(
    fake: FakeSpotify, make_client: Build, state: MemoryStateStore, clock: ManualClock, value: str
) -> None:
    fake.on("GET", RP, reply(429, body={"error": {"status": 429}}, headers={"Retry-After": value}))
    with pytest.raises(RateLimitPaused) as err:
        make_client(max_retries=1).recently_played()
    assert clock.now() < err.value.until <= clock.now() + timedelta(days=1)
    stored = state.get(PAUSE_KEY)
    assert stored is not None and datetime.fromisoformat(stored["until"]) == err.value.until


def test_the_cap_is_a_setting_and_is_named(fake: FakeSpotify, make_client: Build, clock: ManualClock) -> None:
    fake.on("GET", RP, reply(429, body={}, headers={"Retry-After": "99999999999"}))
    with pytest.raises(RateLimitPaused) as err:
        make_client(max_pause_seconds=600).recently_played()
    assert err.value.until == clock.now() + timedelta(seconds=600)
    assert "max_pause_seconds" in str(err.value)


def test_a_pause_stored_until_the_year_5195_is_capped_when_read(
    state: MemoryStateStore, make_client: Build, clock: ManualClock, fake: FakeSpotify
) -> None:
    state.set(
        PAUSE_KEY,
        {
            "until": "5195-01-01T00:00:00+00:00",
            "reason": "old",
            "kind": "rate_limit",
            "set_at": clock.now().isoformat(),
        },
    )
    pause = read_pause(state, clock.now())
    assert pause is not None and pause.until == clock.now() + timedelta(days=1)
    clock.advance(timedelta(days=1, seconds=1))
    fake.on("GET", RP, reply(body={"items": []}))
    make_client().recently_played()  # the capped pause is over: Spotify is called again


def test_clear_pause_ends_it_and_says_what_it_was(state: MemoryStateStore, clock: ManualClock) -> None:
    assert clear_pause(state, clock.now()) is None
    state.set(
        PAUSE_KEY, {"until": (clock.now() + timedelta(hours=3)).isoformat(), "reason": "429", "kind": "quota"}
    )
    cleared = clear_pause(state, clock.now())
    assert cleared is not None and cleared.kind == "quota" and cleared.reason == "429"
    assert read_pause(state, clock.now()) is None


def test_a_host_that_never_answers_is_named_not_status_0(fake: FakeSpotify, make_client: Build) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    fake.on("GET", RP, refuse)
    with pytest.raises(SpotifyUnreachable) as err:
        make_client(max_retries=1).recently_played()
    text = str(err.value)
    assert text.startswith("could not reach ") and "Connection refused" in text
    assert "answered 0" not in text and "gave up after 2 attempts" in text


def test_an_unreachable_accounts_service_is_named(
    fake: FakeSpotify, make_client: Build, clock: ManualClock
) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("name resolution failed", request=request)

    fake.on("POST", "/api/token", refuse)
    clock.advance(timedelta(hours=2))  # the access token expired: a refresh is needed first
    client = make_client(max_retries=0, accounts_url="https://accounts.example.test")
    with pytest.raises(
        SpotifyUnreachable, match=r"^could not reach accounts\.example\.test: .*name resolution"
    ):
        client.recently_played()


@pytest.mark.parametrize(
    "uri", ["http://localhost:8888/callback", "http://LOCALHOST:8888/callback", "HTTP://LocalHost./cb"]
)
def test_a_localhost_redirect_is_refused_whatever_its_case(uri: str) -> None:
    from spotify_pipeline.errors import ConfigError
    from spotify_pipeline.settings import load_settings

    with pytest.raises(ConfigError, match="localhost"):
        load_settings(redirect_uri=uri)


def test_the_callback_server_and_paging_compare_hosts_case_insensitively() -> None:
    from spotify_pipeline.spotify.auth import _CallbackServer
    from spotify_pipeline.spotify.paging import same_origin

    assert same_origin("HTTPS://API.SPOTIFY.COM/v1/me/following?after=x", "https://api.spotify.com/v1")
    assert not same_origin("https://api.spotify.com.evil.test/v1/x", "https://api.spotify.com/v1")
    server = _CallbackServer("HTTP://127.0.0.1:0/callback")  # the scheme's case does not matter
    assert server.redirect_uri.startswith("http://127.0.0.1:")
    server._server.server_close()
