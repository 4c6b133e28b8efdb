"""Fixtures for the simulator's HTTP tests: a simulator on a manual clock, and clients for it."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from spotify_pipeline.clock import ManualClock
from spotify_pipeline.simulator import Simulator, SimulatorConfig

START = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
ACCOUNTS = "https://accounts.spotify.com"
API = "https://api.spotify.com/v1"


@pytest.fixture()
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture()
def sim(clock: ManualClock) -> Simulator:
    s = Simulator(SimulatorConfig(seed=7), clock=clock)
    s.add_user("alice", profile="heavy")
    return s


@pytest.fixture()
def http(sim: Simulator) -> Iterator[httpx.Client]:
    """A plain client on the simulator's transport (absolute URLs, no auth)."""
    with httpx.Client(transport=sim.transport(), follow_redirects=False) as client:
        yield client


def api_client(sim: Simulator, access_token: str) -> httpx.Client:
    return httpx.Client(
        transport=sim.transport(), base_url=API, headers={"Authorization": f"Bearer {access_token}"}
    )


@pytest.fixture()
def api(sim: Simulator) -> Iterator[httpx.Client]:
    """A client for alice with the pipeline's scopes."""
    with api_client(sim, sim.grant("alice")["access_token"]) as client:
        yield client


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(64)[:96]
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}
