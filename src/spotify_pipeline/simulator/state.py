"""The simulator's settings and what the simulated Spotify services remember: apps, users, codes,
tokens, served calls.

One lock guards all of it: the server is threaded and the demo and Airflow call it concurrently,
and every operation here is a few dictionary lookups, so a single lock costs nothing measurable.
Secrets (client secrets, codes, tokens) are kept out of every ``repr``.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta


@dataclass
class SimulatorConfig:
    """Settings of one simulated Spotify (app mode, token lifetimes, rate limit, listening model)."""

    seed: int = 7
    mode: str = "development"  # or "extended" (Extended Quota Mode: every endpoint and field)
    access_token_ttl: int = 3600
    # Refresh tokens die 6 months after consent, whatever refreshing happened (blog 2026-06-18).
    refresh_token_lifetime: timedelta = timedelta(days=182)
    rate_limit_per_30s: int = 180  # rolling 30-second window budget per app
    late_share: float = 0.0  # share of plays that reach the feed late (after newer ones)
    deny_authorize: bool = False  # /authorize redirects with error=access_denied
    max_dev_users: int = 5  # Development Mode allowlist size
    authorization_code_ttl: int = 600  # RFC 6749 §4.1.2 recommends at most 10 minutes
    # Tastes as clusters of artists, old favourites that come back, new releases over time
    # (simulator/taste.py, simulator/releases.py). Off: the flat model every other number rests on.
    structured_taste: bool = False

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"SimulatorConfig.mode must be one of {MODES}, not {self.mode!r}")
        if self.rate_limit_per_30s < 1:
            raise ValueError("SimulatorConfig.rate_limit_per_30s must be at least 1")


MODES = ("development", "extended")


def new_token(nbytes: int = 48) -> str:
    """An opaque token that looks like Spotify's (URL-safe base64, about 64-130 characters)."""
    return secrets.token_urlsafe(nbytes)


def new_client_id() -> str:
    return secrets.token_hex(16)


@dataclass
class App:
    """A registered Spotify app (a Developer Dashboard client)."""

    client_id: str
    client_secret: str = field(repr=False)
    redirect_uris: list[str] = field(default_factory=list)


@dataclass
class UserAccount:
    user_id: str
    profile: str
    since: datetime
    registered: bool  # on the Development-Mode allowlist


@dataclass
class AuthCode:
    code: str = field(repr=False)
    client_id: str
    user_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    code_challenge: str | None = field(repr=False)
    issued_at: datetime
    expires_at: datetime
    used: bool = False


@dataclass
class RefreshToken:
    token: str = field(repr=False)
    client_id: str
    user_id: str
    scopes: tuple[str, ...]
    pkce: bool
    consented_at: datetime  # the 6-month lifetime runs from consent, whatever refreshing happened
    revoked: bool = False


@dataclass
class AccessToken:
    token: str = field(repr=False)
    client_id: str
    user_id: str
    scopes: tuple[str, ...]
    expires_at: datetime


@dataclass(frozen=True)
class CallRecord:
    """One request served. ``status`` is None when the connection was dropped without an answer."""

    method: str
    path: str
    status: int | None
    client_id: str | None


class SimState:
    """Registries of the accounts service, shared by the accounts and Web API handlers."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.apps: dict[str, App] = {}
        self.users: dict[str, UserAccount] = {}
        self.codes: dict[str, AuthCode] = {}
        self.refresh_tokens: dict[str, RefreshToken] = {}
        self.access_tokens: dict[str, AccessToken] = {}
        self.calls: list[CallRecord] = []

    def record(self, call: CallRecord) -> None:
        with self.lock:
            self.calls.append(call)

    def issue_tokens(
        self,
        *,
        client_id: str,
        user_id: str,
        scopes: tuple[str, ...],
        pkce: bool,
        now: datetime,
        ttl: int,
        consented_at: datetime,
        with_refresh: bool,
    ) -> tuple[AccessToken, RefreshToken | None]:
        with self.lock:
            access = AccessToken(new_token(), client_id, user_id, scopes, now + timedelta(seconds=ttl))
            self.access_tokens[access.token] = access
            refresh = None
            if with_refresh:
                refresh = RefreshToken(new_token(), client_id, user_id, scopes, pkce, consented_at)
                self.refresh_tokens[refresh.token] = refresh
            return access, refresh
