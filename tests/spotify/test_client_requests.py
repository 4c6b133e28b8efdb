"""The request loop: refresh, 401, backoff, 429 pauses, and the errors a person reads."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

import httpx
import pytest
from tests.conftest import load_fixture

from spotify_pipeline.clock import ManualClock
from spotify_pipeline.errors import AuthError, LoginRequired, QuotaExceeded, RateLimitPaused, SpotifyApiError
from spotify_pipeline.spotify.bearer import BearerAuth
from spotify_pipeline.spotify.client import PAUSE_KEY, SpotifyClient
from spotify_pipeline.spotify.state import MemoryStateStore
from spotify_pipeline.spotify.tokens import MemoryTokenStore, TokenState

from .conftest import ACCESS, FakeSpotify, make_token, reply, settings

RP = "/v1/me/player/recently-played"
PAGE = "api/recently-played_2023-09_limit2.json"
Build = Callable[..., SpotifyClient]


def bearer(request: httpx.Request) -> str:
    return request.headers["authorization"].removeprefix("Bearer ")


def test_returns_the_page_as_sent_with_fetch_meta(
    fake: FakeSpotify, make_client: Build, clock: ManualClock
) -> None:
    fake.on("GET", RP, reply(fixture=PAGE))
    page, meta = make_client().recently_played(limit=50)

    assert page == load_fixture(PAGE)
    assert meta.request == "GET /v1/me/player/recently-played?limit=50"
    assert (meta.status, meta.fetched_at) == (200, clock.now())
    assert bearer(fake.requests[0]) == ACCESS


def test_before_and_after_are_passed_and_exclusive(fake: FakeSpotify, make_client: Build) -> None:
    fake.on("GET", RP, reply(fixture=PAGE))
    client = make_client()
    _, meta = client.recently_played(after=1695397413750)
    assert meta.request == "GET /v1/me/player/recently-played?limit=50&after=1695397413750"
    with pytest.raises(ValueError):
        client.recently_played(before=1, after=2)
    with pytest.raises(ValueError):
        client.recently_played(limit=51)


def test_an_expiring_token_is_refreshed_before_the_call(
    fake: FakeSpotify, make_client: Build, token_store: MemoryTokenStore, clock: ManualClock
) -> None:
    fake.on("POST", "/api/token", reply(fixture="auth/token_refresh_pkce_rotated.json"))
    fake.on("GET", RP, reply(fixture=PAGE))
    clock.advance(3600 - 30)  # inside the one-minute margin
    make_client().recently_played()

    assert fake.events == ["POST /api/token", f"GET {RP}"]
    rotated = load_fixture("auth/token_refresh_pkce_rotated.json")
    assert bearer(fake.requests[1]) == rotated["access_token"]
    saved = token_store.load()
    assert saved is not None and saved.refresh_token.get_secret_value() == rotated["refresh_token"]


def test_401_refreshes_once_saves_the_rotated_token_first_and_repeats(
    fake: FakeSpotify, make_client: Build, clock: ManualClock
) -> None:
    class RecordingStore(MemoryTokenStore):
        def save(self, state: TokenState) -> None:
            fake.events.append("SAVE " + state.refresh_token.get_secret_value()[:8])
            super().save(state)

    store = RecordingStore(make_token(clock))
    fake.on(
        "GET",
        RP,
        reply(401, fixture="errors/401_missing_invalid_expired_token_2026.json"),
        reply(fixture=PAGE),
    )
    fake.on("POST", "/api/token", reply(fixture="auth/token_refresh_pkce_rotated.json"))
    client = SpotifyClient.from_settings(
        settings(), store, MemoryStateStore(), clock=clock, transport=fake.transport, sleep=lambda s: None
    )
    page, meta = client.recently_played()

    rotated = load_fixture("auth/token_refresh_pkce_rotated.json")
    assert fake.events == [
        f"GET {RP}",
        "POST /api/token",
        "SAVE " + rotated["refresh_token"][:8],
        f"GET {RP}",
    ]
    assert bearer(fake.requests[-1]) == rotated["access_token"]
    assert meta.status == 200 and page["items"]
    assert client.calls == {f"GET {RP}": 2, "POST /api/token": 1}


def test_a_second_401_is_an_error_not_a_loop(fake: FakeSpotify, make_client: Build) -> None:
    fake.on("GET", RP, reply(401, fixture="errors/401_access_token_expired_legacy.json"))
    fake.on("POST", "/api/token", reply(fixture="auth/token_refresh_no_rotation.json"))
    with pytest.raises(SpotifyApiError) as err:
        make_client().recently_played()
    assert err.value.status == 401 and err.value.endpoint == f"GET {RP}"
    assert fake.count("GET", RP) == 2 and fake.count("POST", "/api/token") == 1


def test_the_one_refresh_spans_the_backoff_retries_of_a_request(
    fake: FakeSpotify, make_client: Build, sleeps: list[float]
) -> None:
    # 401 (refresh, repeat), 502 (back off, repeat), 401 again: still one refresh, then the error.
    fake.on(
        "GET",
        RP,
        reply(401, fixture="errors/401_access_token_expired_legacy.json"),
        reply(502, fixture="errors/502_bad_gateway.json"),
        reply(401, fixture="errors/401_access_token_expired_legacy.json"),
    )
    client = make_client()
    with pytest.raises(SpotifyApiError) as err:
        client.recently_played()
    assert err.value.status == 401 and "even after a token refresh" in str(err.value)
    assert fake.events == [f"GET {RP}", "POST /api/token", f"GET {RP}", f"GET {RP}"]
    assert len(sleeps) == 1 and client.calls == {f"GET {RP}": 3, "POST /api/token": 1}
    # The next request is a new one: it gets its own refresh.
    fake.on("GET", RP, reply(401, fixture="errors/401_access_token_expired_legacy.json"), reply(fixture=PAGE))
    client.recently_played()
    assert fake.count("POST", "/api/token") == 2


def test_the_bearer_flow_is_for_the_synchronous_client_only(make_client: Build) -> None:
    bearer_auth = BearerAuth(make_client().tokens, on_send=lambda: None)
    flow = bearer_auth.async_auth_flow(httpx.Request("GET", "https://api.spotify.com/v1/me"))
    with pytest.raises(RuntimeError, match="httpx.Client only"):
        asyncio.run(flow.__anext__())


@pytest.mark.parametrize(
    ("fixture", "word"),
    [
        ("auth/error_invalid_grant_refresh_revoked.json", "revoked"),
        ("auth/error_invalid_grant_refresh_token_expired_2026.json", "expired"),
    ],
)
def test_invalid_grant_stops_without_retry_and_discards_the_token(
    fake: FakeSpotify,
    make_client: Build,
    token_store: MemoryTokenStore,
    clock: ManualClock,
    fixture: str,
    word: str,
) -> None:
    fake.on("POST", "/api/token", reply(400, fixture=fixture))
    fake.on("GET", RP, reply(fixture=PAGE))
    clock.advance(3600)
    with pytest.raises(LoginRequired) as err:
        make_client().recently_played()
    assert word in str(err.value) and "run `spotify-pipeline auth login` again" in str(err.value)
    assert fake.events == ["POST /api/token"]
    assert token_store.load() is None
    # The next run stops at once, without calling Spotify at all.
    with pytest.raises(LoginRequired):
        make_client().recently_played()
    assert fake.events == ["POST /api/token"]


def test_a_token_rotated_by_another_run_is_used_instead_of_failing(
    fake: FakeSpotify, make_client: Build, token_store: MemoryTokenStore, clock: ManualClock
) -> None:
    """The bihourly and daily jobs share a PKCE token: if one rotated it, the other's is spent."""
    client = make_client()
    fake.on("GET", RP, reply(fixture=PAGE))
    client.recently_played()  # loads the token into the client
    clock.advance(3600)
    newer = make_token(clock)
    newer.refresh_token = type(newer.refresh_token)("FAKE-REFRESH-TOKEN-rotated-by-other-run")
    token_store.save(newer)  # the other run rotated it and got a fresh access token
    client.recently_played()
    assert fake.count("POST", "/api/token") == 0
    assert client.calls[f"GET {RP}"] == 2


def test_5xx_burst_then_success_backs_off_with_jitter(
    fake: FakeSpotify, make_client: Build, sleeps: list[float]
) -> None:
    fake.on(
        "GET",
        RP,
        reply(502, fixture="errors/502_bad_gateway.json"),
        reply(503, text="Service Unavailable"),
        reply(500, body={}),
        reply(fixture=PAGE),
    )
    page, _ = make_client(max_retries=3, backoff_base_seconds=0.5).recently_played()
    assert page == load_fixture(PAGE)
    assert len(sleeps) == 3
    for n, slept in enumerate(sleeps):
        assert 0 <= slept <= 0.5 * 2**n  # full jitter: uniform in [0, base * 2^n]


def test_retries_exhausted_is_a_spotify_api_error(
    fake: FakeSpotify, make_client: Build, sleeps: list[float]
) -> None:
    fake.on("GET", "/v1/me/following", reply(502, fixture="errors/502_failed_to_get_followed_artists.json"))
    with pytest.raises(SpotifyApiError) as err:
        make_client(max_retries=2).followed_artists()
    assert err.value.status == 502 and "Failed to get followed artists" in str(err.value)
    assert "gave up after 3 attempts" in str(err.value)
    assert fake.count("GET", "/v1/me/following") == 3 and len(sleeps) == 2


def test_timeouts_are_retried(fake: FakeSpotify, make_client: Build, sleeps: list[float]) -> None:
    attempts = []

    def flaky(request: httpx.Request) -> httpx.Response:
        attempts.append(request)
        if len(attempts) < 3:
            raise httpx.ReadTimeout("timed out", request=request)
        return reply(fixture=PAGE)(request)

    fake.on("GET", RP, flaky)
    make_client().recently_played()
    assert len(attempts) == 3 and len(sleeps) == 2


def test_connection_errors_exhausted(fake: FakeSpotify, make_client: Build) -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    fake.on("GET", RP, down)
    with pytest.raises(SpotifyApiError) as err:
        make_client(max_retries=1).recently_played()
    assert err.value.status == 0 and "ConnectError" in str(err.value)


def test_malformed_json_is_retried_then_names_the_endpoint(fake: FakeSpotify, make_client: Build) -> None:
    garbage = reply(200, text='{"items": [ {"track": ')
    fake.on("GET", RP, garbage, garbage, reply(fixture=PAGE))
    assert make_client().recently_played()[0] == load_fixture(PAGE)

    fake.on("GET", RP, garbage)
    with pytest.raises(SpotifyApiError) as err:
        make_client(max_retries=1).recently_played()
    assert f"GET {RP}" in str(err.value) and "not valid JSON" in str(err.value)


@pytest.mark.parametrize("header", ["Retry-After", "retry-after"])
def test_short_429_waits_then_retries(
    fake: FakeSpotify, make_client: Build, sleeps: list[float], state: MemoryStateStore, header: str
) -> None:
    fake.on(
        "GET",
        RP,
        reply(429, fixture="errors/429_rate_limited.json", headers={header: "7"}),
        reply(fixture=PAGE),
    )
    make_client().recently_played()
    assert sleeps == [7.0]
    assert state.get(PAUSE_KEY) is None


def test_long_429_records_the_pause_and_later_calls_skip_without_http(
    fake: FakeSpotify, make_client: Build, sleeps: list[float], state: MemoryStateStore, clock: ManualClock
) -> None:
    fake.on("GET", RP, reply(429, fixture="errors/429_rate_limited.json", headers={"Retry-After": "79892"}))
    with pytest.raises(RateLimitPaused) as err:
        make_client().recently_played()
    until = clock.now() + timedelta(seconds=79892)
    assert err.value.until == until and not isinstance(err.value, QuotaExceeded)
    assert sleeps == []  # never sleeps through a long Retry-After
    stored = state.get(PAUSE_KEY)
    assert stored is not None and stored["until"] == until.isoformat() and "79892 s" in stored["reason"]

    # A later run (new client, same state) skips every endpoint without calling Spotify.
    clock.advance(timedelta(hours=20))
    client = make_client()
    for call in (client.recently_played, client.followed_artists, client.me):
        with pytest.raises(RateLimitPaused) as later:
            call()
        assert later.value.until == until
    assert len(fake.requests) == 1

    # Once the time has passed, calls go through again.
    clock.set(until + timedelta(seconds=1))
    fake.on("GET", RP, reply(fixture=PAGE))
    fake.on("POST", "/api/token", reply(fixture="auth/token_refresh_no_rotation.json"))
    make_client().recently_played()
    assert fake.events[1:] == ["POST /api/token", f"GET {RP}"]


def test_429_without_retry_after_pauses_an_hour(
    fake: FakeSpotify, make_client: Build, sleeps: list[float], state: MemoryStateStore, clock: ManualClock
) -> None:
    fake.on("GET", RP, lambda request: httpx.Response(429))
    with pytest.raises(RateLimitPaused) as err:
        make_client().recently_played()
    assert err.value.until == clock.now() + timedelta(hours=1)
    assert "without Retry-After" in str(err.value) and sleeps == []


def test_quota_exceeded_is_reported_as_such(
    fake: FakeSpotify, make_client: Build, sleeps: list[float], state: MemoryStateStore, clock: ManualClock
) -> None:
    fake.on(
        "GET",
        RP,
        reply(429, fixture="errors/429_quota_exceeded_devmode_UNVERIFIED.json", headers={"Retry-After": "5"}),
    )
    with pytest.raises(QuotaExceeded) as err:
        make_client().recently_played()
    assert "QUOTA_EXCEEDED" in str(err.value) and "quota" in str(err.value)
    assert sleeps == []  # a quota is a budget: not waited for inside a run, even with a short Retry-After
    with pytest.raises(QuotaExceeded):  # and a later run still says "quota"
        make_client().recently_played()
    assert len(fake.requests) == 1


def test_repeated_short_429s_end_in_a_pause(
    fake: FakeSpotify, make_client: Build, sleeps: list[float]
) -> None:
    fake.on("GET", RP, reply(429, fixture="errors/429_rate_limited.json", headers={"Retry-After": "2"}))
    with pytest.raises(RateLimitPaused):
        make_client(max_retries=2).recently_played()
    assert sleeps == [2.0, 2.0] and fake.count("GET", RP) == 3


def test_user_not_registered_says_to_add_them_in_the_dashboard(fake: FakeSpotify, make_client: Build) -> None:
    fake.on("GET", RP, reply(403, fixture="errors/403_user_not_registered.txt"))
    with pytest.raises(AuthError) as err:
        make_client().recently_played()
    assert "Developer Dashboard" in str(err.value) and "5 users" in str(err.value)
    assert fake.count("GET", RP) == 1


def test_other_errors_name_status_endpoint_and_message(fake: FakeSpotify, make_client: Build) -> None:
    fake.on("GET", "/v1/me", reply(403, fixture="errors/403_forbidden_devmode_removed_endpoint.json"))
    with pytest.raises(SpotifyApiError) as err:
        make_client().me()
    assert str(err.value) == "Spotify answered 403 on GET /v1/me: Forbidden"


def test_no_stored_login(fake: FakeSpotify, state: MemoryStateStore, clock: ManualClock) -> None:
    client = SpotifyClient.from_settings(
        settings(), MemoryTokenStore(), state, clock=clock, transport=fake.transport
    )
    with pytest.raises(LoginRequired) as err:
        client.me()
    assert "auth login" in str(err.value) and fake.requests == []


def test_a_login_for_another_app_is_refused(
    fake: FakeSpotify, state: MemoryStateStore, clock: ManualClock
) -> None:
    client = SpotifyClient.from_settings(
        settings(client_id="other-app"),
        MemoryTokenStore(make_token(clock)),
        state,
        clock=clock,
        transport=fake.transport,
    )
    with pytest.raises(LoginRequired) as err:
        client.me()
    assert "other-app" in str(err.value) and fake.requests == []


def test_token_endpoint_5xx_is_retried_during_refresh(
    fake: FakeSpotify, make_client: Build, clock: ManualClock, sleeps: list[float]
) -> None:
    fake.on(
        "POST",
        "/api/token",
        reply(503, text="upstream down"),
        reply(fixture="auth/token_refresh_no_rotation.json"),
    )
    fake.on("GET", RP, reply(fixture=PAGE))
    clock.advance(3600)
    client = make_client()
    client.recently_played()
    assert client.calls["POST /api/token"] == 2 and len(sleeps) == 1
