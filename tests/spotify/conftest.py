"""A route-based fake Spotify (httpx.MockTransport) serving the real recorded bodies, and the
objects every client test needs. Tokens are recognisable so the secret tests can look for them."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode

import httpx
import pytest
from pydantic import SecretStr
from tests.conftest import load_fixture

from spotify_pipeline.clock import ManualClock
from spotify_pipeline.settings import Settings
from spotify_pipeline.spotify.auth import pkce_challenge
from spotify_pipeline.spotify.client import SpotifyClient
from spotify_pipeline.spotify.retry import BackoffPolicy
from spotify_pipeline.spotify.state import MemoryStateStore
from spotify_pipeline.spotify.tokens import MemoryTokenStore, TokenState

START = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
CLIENT_ID = "test-client-id-0001"
CLIENT_SECRET = "FAKE-CLIENT-SECRET-5ec7e7-never-log-me"
ACCESS = "FAKE-ACCESS-TOKEN-a11ce5-never-log-me"
REFRESH = "FAKE-REFRESH-TOKEN-7e57e7-never-log-me"
ALL_SECRETS = (CLIENT_SECRET, ACCESS, REFRESH)

Responder = Callable[[httpx.Request], httpx.Response]


def reply(
    status: int = 200,
    body: Any = None,
    *,
    fixture: str | None = None,
    text: str | None = None,
    headers: dict[str, str] | None = None,
) -> Responder:
    """A responder for one answer: a fixture file, a JSON body or raw text."""
    if fixture is not None:
        loaded = load_fixture(fixture)
        content = (json.dumps(loaded) if not isinstance(loaded, str) else loaded).encode()
        ctype = "application/json" if fixture.endswith(".json") else "text/plain"
    elif text is not None:
        content, ctype = text.encode(), "text/plain"
    else:
        content, ctype = json.dumps(body if body is not None else {}).encode(), "application/json"

    def respond(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=content, headers={"Content-Type": ctype, **(headers or {})})

    return respond


class FakeSpotify:
    """Routes by (method, path). Each route is a queue of responders; the last one repeats."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.routes: dict[tuple[str, str], list[Responder]] = {}
        self.events: list[str] = []  # ordered log of requests (and whatever tests add)
        self.codes: dict[str, dict[str, str]] = {}  # authorization code -> what /authorize saw
        self.token_bodies: list[dict[str, str]] = []
        # A confidential-client refresh by default; tests about tokens replace it.
        self.on("POST", "/api/token", reply(fixture="auth/token_refresh_no_rotation.json"))

    def on(self, method: str, path: str, *responders: Responder) -> FakeSpotify:
        self.routes[(method, path)] = list(responders)
        return self

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.events.append(f"{request.method} {request.url.path}")
        if request.url.path == "/api/token" and request.method == "POST":
            self.token_bodies.append({k: v[0] for k, v in parse_qs(request.content.decode()).items()})
        if request.url.path == "/authorize":
            return self._authorize(request)
        queue = self.routes.get((request.method, request.url.path))
        if not queue:
            return httpx.Response(404, json={"error": {"status": 404, "message": "Service not found"}})
        responder = queue.pop(0) if len(queue) > 1 else queue[0]
        return responder(request)

    def _authorize(self, request: httpx.Request) -> httpx.Response:
        """Consent without a browser: redirect back with a code, remembering the PKCE challenge."""
        q = dict(request.url.params)
        code = f"AQ-fake-code-{len(self.codes)}"
        self.codes[code] = q
        location = f"{q['redirect_uri']}?{urlencode({'code': code, 'state': q['state']})}"
        return httpx.Response(302, headers={"Location": location})

    def pkce_token_endpoint(self, body: Any) -> Responder:
        """A token endpoint that checks the verifier against the challenge /authorize saw."""

        def respond(request: httpx.Request) -> httpx.Response:
            form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
            seen = self.codes.get(form.get("code", ""))
            if seen is None:
                return reply(400, fixture="auth/error_invalid_grant_invalid_authorization_code.json")(request)
            if pkce_challenge(form.get("code_verifier", "")) != seen.get("code_challenge"):
                return reply(400, fixture="auth/error_invalid_grant_code_verifier_incorrect.json")(request)
            return httpx.Response(200, json=body)

        return respond

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handler)

    def count(self, method: str, path: str) -> int:
        return sum(1 for r in self.requests if r.method == method and r.url.path == path)


def basic_credentials(request: httpx.Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    if not header.startswith("Basic "):
        return None
    user, _, pw = base64.b64decode(header[6:]).decode().partition(":")
    return user, pw


def make_token(clock: ManualClock, *, expires_in: float = 3600, consented_days_ago: float = 10) -> TokenState:
    now = clock.now()
    return TokenState(
        access_token=SecretStr(ACCESS),
        refresh_token=SecretStr(REFRESH),
        expires_at=now + timedelta(seconds=expires_in),
        scope="user-read-recently-played user-follow-read",
        consented_at=now - timedelta(days=consented_days_ago),
        client_id=CLIENT_ID,
    )


@pytest.fixture()
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture()
def fake() -> FakeSpotify:
    return FakeSpotify()


@pytest.fixture()
def sleeps() -> list[float]:
    return []


@pytest.fixture()
def state() -> MemoryStateStore:
    return MemoryStateStore()


@pytest.fixture()
def token_store(clock: ManualClock) -> MemoryTokenStore:
    return MemoryTokenStore(make_token(clock))


def settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "client_id": CLIENT_ID,
        "client_secret": None,
        "max_retries": 3,
        "backoff_base_seconds": 0.5,
        "retry_after_cap_seconds": 30.0,
        "redirect_uri": "http://127.0.0.1:8888/callback",
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture()
def make_client(
    fake: FakeSpotify,
    token_store: MemoryTokenStore,
    state: MemoryStateStore,
    clock: ManualClock,
    sleeps: list[float],
) -> Callable[..., SpotifyClient]:
    import random

    def build(**overrides: Any) -> SpotifyClient:
        client = SpotifyClient.from_settings(
            settings(**overrides),
            token_store,
            state,
            clock=clock,
            transport=fake.transport,
            sleep=sleeps.append,
            rng=random.Random(7),
        )
        assert isinstance(client.backoff, BackoffPolicy)
        return client

    return build
