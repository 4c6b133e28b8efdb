"""accounts.spotify.com: /authorize and /api/token, with Spotify's exact error bodies."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from tests.conftest import load_fixture

from spotify_pipeline.clock import ManualClock
from spotify_pipeline.simulator import Simulator, SimulatorConfig

from .conftest import ACCOUNTS, API, START, basic, pkce_pair, query_of

REDIRECT = "http://127.0.0.1:8888/callback"
SCOPE = "user-read-recently-played user-follow-read"


def authorize(http: httpx.Client, sim: Simulator, **overrides: str) -> httpx.Response:
    params = {
        "client_id": sim.default_app.client_id,
        "response_type": "code",
        "redirect_uri": REDIRECT,
        "state": "xyz-state",
        "scope": SCOPE,
        **overrides,
    }
    return http.get(f"{ACCOUNTS}/authorize", params={k: v for k, v in params.items() if v != "<omit>"})


def pkce_code(http: httpx.Client, sim: Simulator) -> tuple[str, str]:
    verifier, challenge = pkce_pair()
    resp = authorize(http, sim, code_challenge_method="S256", code_challenge=challenge)
    assert resp.status_code == 302
    return query_of(resp.headers["Location"])["code"], verifier


def token(http: httpx.Client, data: dict[str, str], headers: dict[str, str] | None = None) -> httpx.Response:
    return http.post(f"{ACCOUNTS}/api/token", data=data, headers=headers or {})


def test_authorize_redirects_with_code_and_state(http: httpx.Client, sim: Simulator) -> None:
    resp = authorize(http, sim)
    assert resp.status_code == 302
    location = resp.headers["Location"]
    assert location.startswith(REDIRECT + "?")
    q = query_of(location)
    assert q["state"] == "xyz-state" and len(q["code"]) > 20


def test_deny_mode_redirects_access_denied(clock: ManualClock) -> None:
    sim = Simulator(SimulatorConfig(deny_authorize=True), clock=clock)
    sim.add_user("bob")
    with httpx.Client(transport=sim.transport()) as http:
        q = query_of(authorize(http, sim).headers["Location"])
    assert q == {"error": "access_denied", "state": "xyz-state"}


@pytest.mark.parametrize(
    ("override", "page_text"),
    [
        ({"client_id": "0" * 32}, "INVALID_CLIENT: Invalid client"),
        ({"redirect_uri": "http://127.0.0.1:8888/callback/"}, "INVALID_CLIENT: Invalid redirect URI"),
        ({"redirect_uri": "http://localhost:8888/callback"}, "INVALID_CLIENT: Invalid redirect URI"),
        ({"redirect_uri": "https://evil.example/callback"}, "INVALID_CLIENT: Invalid redirect URI"),
    ],
)
def test_bad_client_or_redirect_is_a_page_never_a_redirect(
    http: httpx.Client, sim: Simulator, override: dict[str, str], page_text: str
) -> None:
    resp = authorize(http, sim, **override)
    assert resp.status_code == 400
    assert "Location" not in resp.headers
    assert page_text in resp.text


def test_authorize_errors_after_a_valid_redirect_go_back_to_it(http: httpx.Client, sim: Simulator) -> None:
    assert query_of(authorize(http, sim, response_type="token").headers["Location"])["error"] == (
        "unsupported_response_type"
    )
    assert query_of(authorize(http, sim, scope="user-read-everything").headers["Location"])["error"] == (
        "invalid_scope"
    )
    plain = authorize(http, sim, code_challenge_method="plain", code_challenge="abc")
    assert query_of(plain.headers["Location"])["error"] == "invalid_request"


def test_loopback_registered_without_port_accepts_any_port(http: httpx.Client, sim: Simulator) -> None:
    app = sim.register_app(["http://127.0.0.1/cb"])
    resp = authorize(http, sim, client_id=app.client_id, redirect_uri="http://127.0.0.1:53682/cb")
    assert resp.status_code == 302
    assert resp.headers["Location"].startswith("http://127.0.0.1:53682/cb?code=")


def test_pkce_exchange_returns_the_recorded_body_shape(http: httpx.Client, sim: Simulator) -> None:
    code, verifier = pkce_code(http, sim)
    resp = token(
        http,
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "client_id": sim.default_app.client_id,
            "code_verifier": verifier,
        },
    )
    assert resp.status_code == 200
    body = resp.json()
    assert list(body) == list(load_fixture("auth/token_authorization_code.json"))
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600 and body["scope"] == SCOPE
    me = http.get(f"{API}/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200 and me.json()["id"] == "alice"


def test_codes_are_single_use(http: httpx.Client, sim: Simulator) -> None:
    code, verifier = pkce_code(http, sim)
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "client_id": sim.default_app.client_id,
        "code_verifier": verifier,
    }
    assert token(http, data).status_code == 200
    again = token(http, data)
    assert again.status_code == 400
    assert again.json() == load_fixture("auth/error_invalid_grant_invalid_authorization_code.json")


def test_codes_are_short_lived(http: httpx.Client, sim: Simulator, clock: ManualClock) -> None:
    code, verifier = pkce_code(http, sim)
    clock.advance(timedelta(minutes=10))
    resp = token(
        http,
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "client_id": sim.default_app.client_id,
            "code_verifier": verifier,
        },
    )
    assert resp.json() == load_fixture("auth/error_invalid_grant_invalid_authorization_code.json")


@pytest.mark.parametrize(
    ("change", "fixture"),
    [
        ({"code_verifier": "x" * 64}, "auth/error_invalid_grant_code_verifier_incorrect.json"),
        (
            {"redirect_uri": "http://127.0.0.1:9999/callback"},
            "auth/error_invalid_grant_invalid_redirect_uri.json",
        ),
        ({"code": "not-a-code"}, "auth/error_invalid_grant_invalid_authorization_code.json"),
        ({"client_id": "f" * 32}, "auth/error_invalid_client.json"),
    ],
)
def test_pkce_exchange_errors(
    http: httpx.Client, sim: Simulator, change: dict[str, str], fixture: str
) -> None:
    code, verifier = pkce_code(http, sim)
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "client_id": sim.default_app.client_id,
        "code_verifier": verifier,
        **change,
    }
    resp = token(http, data)
    assert resp.status_code == 400
    assert resp.json() == load_fixture(fixture)


def confidential_code(http: httpx.Client, sim: Simulator) -> str:
    return query_of(authorize(http, sim).headers["Location"])["code"]


def test_confidential_exchange_with_basic_header_or_body_credentials(
    http: httpx.Client, sim: Simulator
) -> None:
    app = sim.default_app
    form = {"grant_type": "authorization_code", "redirect_uri": REDIRECT}
    by_header = token(
        http, {**form, "code": confidential_code(http, sim)}, basic(app.client_id, app.client_secret)
    )
    assert by_header.status_code == 200 and "refresh_token" in by_header.json()
    by_body = token(
        http,
        {
            **form,
            "code": confidential_code(http, sim),
            "client_id": app.client_id,
            "client_secret": app.client_secret,
        },
    )
    assert by_body.status_code == 200


def test_client_authentication_errors(http: httpx.Client, sim: Simulator) -> None:
    app = sim.default_app
    form = {
        "grant_type": "authorization_code",
        "redirect_uri": REDIRECT,
        "code": confidential_code(http, sim),
    }
    wrong = token(http, form, basic(app.client_id, "not-the-secret"))
    assert (wrong.status_code, wrong.json()) == (
        400,
        load_fixture("auth/error_invalid_client_bad_secret.json"),
    )
    unknown = token(http, form, basic("e" * 32, "whatever"))
    assert unknown.json() == load_fixture("auth/error_invalid_client.json")
    nothing = token(http, form)
    assert nothing.json() == load_fixture("auth/error_invalid_client_no_credentials.json")


def test_token_endpoint_takes_form_bodies_only(http: httpx.Client, sim: Simulator) -> None:
    as_json = http.post(f"{ACCOUNTS}/api/token", json={"grant_type": "client_credentials"})
    assert as_json.status_code == 415
    assert as_json.json() == {"error": "server_error", "error_description": "Unexpected status: 415"}
    # JSON text without a JSON content type: Spotify reads no grant_type (spotify/web-api#1503).
    as_text = http.post(
        f"{ACCOUNTS}/api/token",
        content=b'{"grant_type": "refresh_token"}',
        headers={"Content-Type": "text/plain"},
    )
    assert (as_text.status_code, as_text.json()) == (
        400,
        load_fixture("auth/error_unsupported_grant_type.json"),
    )


def test_pkce_refresh_rotates_and_the_old_token_is_revoked(http: httpx.Client, sim: Simulator) -> None:
    first = sim.grant("alice", pkce=True)
    form = {"grant_type": "refresh_token", "client_id": sim.default_app.client_id}
    resp = token(http, {**form, "refresh_token": first["refresh_token"]})
    assert resp.status_code == 200
    body = resp.json()
    assert list(body) == list(load_fixture("auth/token_refresh_pkce_rotated.json"))
    assert body["refresh_token"] != first["refresh_token"]
    reused = token(http, {**form, "refresh_token": first["refresh_token"]})
    assert (reused.status_code, reused.json()) == (
        400,
        load_fixture("auth/error_invalid_grant_refresh_revoked.json"),
    )
    assert token(http, {**form, "refresh_token": body["refresh_token"]}).status_code == 200


def test_confidential_refresh_returns_no_refresh_token(http: httpx.Client, sim: Simulator) -> None:
    app = sim.default_app
    first = sim.grant("alice", pkce=False)
    auth = basic(app.client_id, app.client_secret)
    for _ in range(2):  # the same refresh token keeps working: no rotation
        resp = token(http, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}, auth)
        assert resp.status_code == 200
        assert list(resp.json()) == list(load_fixture("auth/token_refresh_no_rotation.json"))
    no_secret = token(
        http,
        {"grant_type": "refresh_token", "refresh_token": first["refresh_token"], "client_id": app.client_id},
    )
    assert no_secret.json() == load_fixture("auth/error_invalid_client_no_credentials.json")


def test_refresh_token_expires_six_months_after_consent_whatever_refreshing(
    http: httpx.Client, sim: Simulator, clock: ManualClock
) -> None:
    current = sim.grant("alice", pkce=True)["refresh_token"]
    form = {"grant_type": "refresh_token", "client_id": sim.default_app.client_id}
    for _ in range(6):  # a refresh every month does not extend the lifetime
        clock.advance(timedelta(days=30))
        resp = token(http, {**form, "refresh_token": current})
        assert resp.status_code == 200
        current = resp.json()["refresh_token"]
    clock.set(START + timedelta(days=182))
    expired = token(http, {**form, "refresh_token": current})
    assert (expired.status_code, expired.json()) == (
        400,
        load_fixture("auth/error_invalid_grant_refresh_token_expired_2026.json"),
    )


def test_revoked_refresh_token(http: httpx.Client, sim: Simulator) -> None:
    refresh = sim.grant("alice", pkce=True)["refresh_token"]
    sim.revoke_refresh_token(refresh)
    resp = token(
        http,
        {"grant_type": "refresh_token", "client_id": sim.default_app.client_id, "refresh_token": refresh},
    )
    assert resp.json() == load_fixture("auth/error_invalid_grant_refresh_revoked.json")


def test_access_tokens_expire_after_their_ttl(http: httpx.Client, sim: Simulator, clock: ManualClock) -> None:
    access = sim.grant("alice")["access_token"]
    headers = {"Authorization": f"Bearer {access}"}
    clock.advance(3599)
    assert http.get(f"{API}/me", headers=headers).status_code == 200
    clock.advance(1)
    expired = http.get(f"{API}/me", headers=headers)
    assert expired.status_code == 401
    assert expired.headers["WWW-Authenticate"] == 'Bearer realm="spotify", error="invalid_token"'


def test_secrets_stay_out_of_reprs(sim: Simulator) -> None:
    sim.grant("alice")
    app = sim.default_app
    assert app.client_secret not in repr(app)
    for record in sim.state.refresh_tokens.values():
        assert record.token not in repr(record)
