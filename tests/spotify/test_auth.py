"""PKCE, the authorize URL and the token endpoint, on the real recorded token bodies."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from tests.conftest import load_fixture

from spotify_pipeline.clock import ManualClock
from spotify_pipeline.errors import AuthError, LoginRequired, SpotifyApiError
from spotify_pipeline.spotify import auth
from spotify_pipeline.spotify.auth import authorize_url, exchange_code, make_pkce_pair, pkce_challenge

from .conftest import CLIENT_ID, CLIENT_SECRET, FakeSpotify, basic_credentials, make_token, reply

ACCOUNTS = "https://accounts.spotify.com"
REDIRECT = "http://127.0.0.1:8888/callback"


def test_pkce_challenge_matches_the_rfc_7636_appendix_b_vector() -> None:
    assert (
        pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
        == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    )


def test_pkce_pair_is_fresh_within_length_and_alphabet() -> None:
    allowed = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
    pairs = [make_pkce_pair() for _ in range(20)]
    for verifier, challenge in pairs:
        assert 43 <= len(verifier) <= 128
        assert set(verifier) <= allowed
        assert challenge == pkce_challenge(verifier) and "=" not in challenge
    assert len({v for v, _ in pairs}) == 20


def test_authorize_url_carries_the_pkce_parameters() -> None:
    url = authorize_url(
        ACCOUNTS, CLIENT_ID, REDIRECT, ["user-read-recently-played", "user-follow-read"], "st4te", "ch4llenge"
    )
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "accounts.spotify.com", "/authorize")
    assert {k: v[0] for k, v in parse_qs(parts.query).items()} == {
        "client_id": CLIENT_ID,
        "response_type": "code",
        "redirect_uri": REDIRECT,
        "state": "st4te",
        "scope": "user-read-recently-played user-follow-read",
        "code_challenge_method": "S256",
        "code_challenge": "ch4llenge",
    }


def test_authorize_url_for_a_confidential_client_has_no_challenge() -> None:
    query = parse_qs(urlsplit(authorize_url(ACCOUNTS, CLIENT_ID, REDIRECT, ["a"], "s", None)).query)
    assert "code_challenge" not in query and "code_challenge_method" not in query


def _http(fake: FakeSpotify) -> httpx.Client:
    return httpx.Client(transport=fake.transport)


def test_confidential_exchange_sends_basic_credentials(fake: FakeSpotify, clock: ManualClock) -> None:
    fake.on("POST", "/api/token", reply(fixture="auth/token_authorization_code.json"))
    token = exchange_code(
        _http(fake), ACCOUNTS, CLIENT_ID, CLIENT_SECRET, "the-code", REDIRECT, None, clock.now()
    )

    request = fake.requests[0]
    assert basic_credentials(request) == (CLIENT_ID, CLIENT_SECRET)
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert fake.token_bodies[0] == {
        "grant_type": "authorization_code",
        "code": "the-code",
        "redirect_uri": REDIRECT,
    }
    body = load_fixture("auth/token_authorization_code.json")
    assert token.access_token.get_secret_value() == body["access_token"]
    assert token.refresh_token.get_secret_value() == body["refresh_token"]
    assert token.expires_at == clock.now() + timedelta(seconds=3600)
    assert token.consented_at == clock.now() and token.scope == body["scope"] and token.client_id == CLIENT_ID


def test_pkce_exchange_sends_client_id_and_verifier_and_no_secret(
    fake: FakeSpotify, clock: ManualClock
) -> None:
    fake.on("POST", "/api/token", reply(fixture="auth/token_authorization_code.json"))
    exchange_code(_http(fake), ACCOUNTS, CLIENT_ID, None, "the-code", REDIRECT, "v" * 50, clock.now())

    assert "authorization" not in fake.requests[0].headers
    assert fake.token_bodies[0] == {
        "grant_type": "authorization_code",
        "code": "the-code",
        "redirect_uri": REDIRECT,
        "client_id": CLIENT_ID,
        "code_verifier": "v" * 50,
    }


@pytest.mark.parametrize(
    "fixture",
    [
        "auth/error_invalid_grant_invalid_authorization_code.json",
        "auth/error_invalid_grant_code_verifier_incorrect.json",
        "auth/error_invalid_grant_invalid_redirect_uri.json",
    ],
)
def test_a_refused_code_is_an_auth_error_naming_the_reason(
    fake: FakeSpotify, clock: ManualClock, fixture: str
) -> None:
    fake.on("POST", "/api/token", reply(400, fixture=fixture))
    with pytest.raises(AuthError) as err:
        exchange_code(_http(fake), ACCOUNTS, CLIENT_ID, None, "c", REDIRECT, "v" * 50, clock.now())
    assert load_fixture(fixture)["error_description"] in str(err.value)
    assert "auth login" in str(err.value)


@pytest.mark.parametrize(
    "fixture",
    [
        "auth/error_invalid_client.json",
        "auth/error_invalid_client_bad_secret.json",
        "auth/error_invalid_client_no_credentials.json",
    ],
)
def test_invalid_client_names_the_settings_to_check(
    fake: FakeSpotify, clock: ManualClock, fixture: str
) -> None:
    fake.on("POST", "/api/token", reply(400, fixture=fixture))
    with pytest.raises(AuthError) as err:
        exchange_code(_http(fake), ACCOUNTS, CLIENT_ID, CLIENT_SECRET, "c", REDIRECT, None, clock.now())
    assert "SPOTIFY_PIPELINE_CLIENT_ID" in str(err.value) and "invalid_client" in str(err.value)
    assert CLIENT_SECRET not in str(err.value)


def test_refresh_without_rotation_keeps_the_refresh_token_and_consent(
    fake: FakeSpotify, clock: ManualClock
) -> None:
    old = make_token(clock, expires_in=-10, consented_days_ago=100)
    fake.on("POST", "/api/token", reply(fixture="auth/token_refresh_no_rotation.json"))
    clock.advance(60)
    new = auth.refresh(_http(fake), ACCOUNTS, old, CLIENT_SECRET, clock.now())

    assert basic_credentials(fake.requests[0]) == (CLIENT_ID, CLIENT_SECRET)
    assert fake.token_bodies[0] == {
        "grant_type": "refresh_token",
        "refresh_token": old.refresh_token.get_secret_value(),
    }
    assert new.refresh_token == old.refresh_token
    assert (
        new.access_token.get_secret_value()
        == load_fixture("auth/token_refresh_no_rotation.json")["access_token"]
    )
    assert new.consented_at == old.consented_at
    assert new.expires_at == clock.now() + timedelta(seconds=3600)


def test_pkce_refresh_with_rotation_takes_the_new_refresh_token(
    fake: FakeSpotify, clock: ManualClock
) -> None:
    old = make_token(clock, expires_in=-10)
    fake.on("POST", "/api/token", reply(fixture="auth/token_refresh_pkce_rotated.json"))
    new = auth.refresh(_http(fake), ACCOUNTS, old, None, clock.now())

    assert "authorization" not in fake.requests[0].headers
    assert fake.token_bodies[0]["client_id"] == CLIENT_ID
    body = load_fixture("auth/token_refresh_pkce_rotated.json")
    assert (
        new.refresh_token.get_secret_value() == body["refresh_token"] != old.refresh_token.get_secret_value()
    )
    assert new.consented_at == old.consented_at and new.scope == body["scope"]


@pytest.mark.parametrize(
    ("fixture", "word"),
    [
        ("auth/error_invalid_grant_refresh_revoked.json", "revoked"),
        ("auth/error_invalid_grant_refresh_token_expired_2026.json", "expired"),
    ],
)
def test_invalid_grant_on_refresh_means_log_in_again(
    fake: FakeSpotify, clock: ManualClock, fixture: str, word: str
) -> None:
    fake.on("POST", "/api/token", reply(400, fixture=fixture))
    with pytest.raises(LoginRequired) as err:
        auth.refresh(_http(fake), ACCOUNTS, make_token(clock), None, clock.now())
    assert word in str(err.value)
    assert "run `spotify-pipeline auth login` again" in str(err.value)
    assert len(fake.requests) == 1


def test_a_token_endpoint_5xx_is_a_spotify_api_error_the_client_can_retry(
    fake: FakeSpotify, clock: ManualClock
) -> None:
    fake.on("POST", "/api/token", reply(502, fixture="errors/502_bad_gateway.json"))
    with pytest.raises(SpotifyApiError) as err:
        auth.refresh(_http(fake), ACCOUNTS, make_token(clock), None, clock.now())
    assert err.value.status == 502 and err.value.endpoint == "POST /api/token"
