"""The simulator: one object that owns the world (catalog, listening model, clock) and serves
accounts.spotify.com and api.spotify.com from one WSGI app.

In-process, ``Simulator.transport()`` gives an httpx transport (no port); ``server.serve()`` puts
the same WSGI app behind a threaded werkzeug server on 127.0.0.1.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import functools
import socket
import time
from bisect import bisect_right, insort
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from werkzeug.wrappers import Request, Response

from ..clock import Clock, SystemClock
from . import bodies
from .accounts import KNOWN_SCOPES, AccountsService, json_response
from .catalog import Catalog
from .export import write_account_export, write_extended_export
from .faults import Fault, FaultPlan
from .library import Library
from .model import ListeningModel, TruePlay
from .ratelimit import RollingWindowLimiter
from .releases import ReleaseSchedule
from .state import App, CallRecord, SimState, SimulatorConfig, UserAccount, new_client_id, new_token
from .taste import Taste
from .webapi import RECENTLY_PLAYED_WINDOW, WebApi

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

DEFAULT_REDIRECT_URI = "http://127.0.0.1:8888/callback"
DEFAULT_SCOPES = ("user-read-recently-played", "user-follow-read")
DEFAULT_HISTORY = timedelta(days=30)  # how far back a user added without ``since`` has listened


@functools.lru_cache(maxsize=4)
def shared_catalog(seed: int) -> Catalog:
    """One catalog per seed and process: it is immutable once built and takes ~0.2 s to build,
    which every test creating a simulator would otherwise pay."""
    return Catalog(seed)


class DroppedConnection(Exception):
    """Raised by the WSGI app in-process for a ``drop`` fault; the transport turns it into httpx's error."""


class SimulatedTimeout(Exception):
    """Raised by the WSGI app in-process for a ``timeout`` fault."""


class Simulator:
    """A faithful local stand-in for Spotify's accounts service and Web API (see the package doc)."""

    def __init__(
        self,
        config: SimulatorConfig | None = None,
        clock: Clock | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config or SimulatorConfig()
        self.clock: Clock = clock or SystemClock()
        self.sleep = sleep  # used by `slow` faults; tests inject a recorder instead of real sleeping
        self.releases: ReleaseSchedule | None = None
        taste: Taste | None = None
        if self.config.structured_taste:
            # A private copy: releases add albums to it, and the shared catalog stays as it was.
            self.catalog = Catalog(self.config.seed)
            self.releases = ReleaseSchedule(self.catalog, self.config.seed)
            taste = Taste(self.catalog, self.config.seed, self.releases)
        else:
            self.catalog = shared_catalog(self.config.seed)
        self.model = ListeningModel(
            self.catalog, self.config.seed, late_share=self.config.late_share, taste=taste
        )
        self.state = SimState()
        self.faults = FaultPlan()
        self.limiter = RollingWindowLimiter(self.config.rate_limit_per_30s)
        self._browser_user: str | None = None
        self.accounts = AccountsService(
            self.state, self.clock, lambda: self.config, lambda: self._browser_user
        )
        self.webapi = WebApi(
            self.state, self.clock, lambda: self.config, self.catalog, self.model, self.limiter
        )
        self.library = Library(self.catalog, self.clock, lambda: self.config.mode)
        self.webapi.library = self.library
        self.default_app = self.register_app([DEFAULT_REDIRECT_URI])

    def __repr__(self) -> str:
        return (
            f"Simulator(mode={self.config.mode!r}, seed={self.config.seed}, users={sorted(self.state.users)})"
        )

    # --- apps and users ----------------------------------------------------------------------------
    def register_app(
        self, redirect_uris: list[str], client_id: str | None = None, client_secret: str | None = None
    ) -> App:
        app = App(client_id or new_client_id(), client_secret or new_token(16), list(redirect_uris))
        with self.state.lock:
            if app.client_id in self.state.apps:
                raise ValueError(f"an app with client_id {app.client_id!r} is already registered")
            self.state.apps[app.client_id] = app
        return app

    def add_user(
        self, user_id: str, profile: str = "typical", since: datetime | None = None, registered: bool = True
    ) -> None:
        """Add a listener. ``registered=False``: not on the Development-Mode app's allowlist, so API
        calls answer the plain-text 403 (logging in still works, as on Spotify)."""
        since = since or self.clock.now() - DEFAULT_HISTORY
        with self.state.lock:
            if user_id in self.state.users:
                raise ValueError(f"user {user_id!r} already exists in the simulator")
            allowlisted = sum(1 for u in self.state.users.values() if u.registered)
            if registered and self.config.mode == "development" and allowlisted >= self.config.max_dev_users:
                raise ValueError(
                    f"a Development Mode app allows at most {self.config.max_dev_users} users; add "
                    f"{user_id!r} with registered=False or use mode='extended'"
                )
            self.model.add_user(user_id, profile, since)
            self.state.users[user_id] = UserAccount(user_id, profile, since, registered)
            if self._browser_user is None:
                self._browser_user = user_id

    def sign_in(self, user_id: str) -> None:
        """Which user is "logged in to the browser" that /authorize approves for (default: the first added)."""
        self._user(user_id)
        self._browser_user = user_id

    def grant(
        self,
        user_id: str,
        client_id: str | None = None,
        pkce: bool = True,
        scopes: Iterable[str] = DEFAULT_SCOPES,
    ) -> dict[str, Any]:
        """Consent without a browser: the token response body the code exchange would return."""
        self._user(user_id)
        client_id = client_id or self.default_app.client_id
        if client_id not in self.state.apps:
            raise ValueError(f"no app with client_id {client_id!r} is registered in the simulator")
        scopes = tuple(scopes)
        unknown = [s for s in scopes if s not in KNOWN_SCOPES]
        if unknown:
            raise ValueError(f"unknown scopes {unknown}; Spotify's scopes are {sorted(KNOWN_SCOPES)}")
        return self.accounts.consent(client_id, user_id, scopes, pkce=pkce)

    def _user(self, user_id: str) -> UserAccount:
        with self.state.lock:
            user = self.state.users.get(user_id)
        if user is None:
            raise KeyError(f"no user {user_id!r} in the simulator; add it with Simulator.add_user")
        return user

    # --- settings and test helpers -----------------------------------------------------------------
    def set_mode(self, mode: str) -> None:
        self.config = dataclasses.replace(self.config, mode=mode)

    def set_rate_limit(self, per_30s: int) -> None:
        self.config = dataclasses.replace(self.config, rate_limit_per_30s=per_30s)
        self.limiter.budget = per_30s

    def expire_access_tokens(self) -> None:
        """Every access token issued so far stops working (as if its hour were over)."""
        now = self.clock.now()
        with self.state.lock:
            for token in self.state.access_tokens.values():
                token.expires_at = min(token.expires_at, now)

    def revoke_refresh_token(self, refresh_token: str) -> None:
        """The user removed the app's access: the refresh token answers "Refresh token revoked"."""
        with self.state.lock:
            record = self.state.refresh_tokens.get(refresh_token)
            if record is None:
                raise KeyError("no such refresh token in the simulator")
            record.revoked = True

    @property
    def calls(self) -> list[CallRecord]:
        with self.state.lock:
            return list(self.state.calls)

    def clear_calls(self) -> None:
        with self.state.lock:
            self.state.calls.clear()

    # --- ground truth --------------------------------------------------------------------------------
    def truth(self, user_id: str, start: datetime, end: datetime) -> list[TruePlay]:
        """Every play the user made that ended in [start, end), whatever the API shows."""
        self._user(user_id)
        with self.webapi.model_lock:
            return list(self.model.plays(user_id, start, end))

    def api_visible_truth(self, user_id: str, start: datetime, end: datetime) -> list[TruePlay]:
        """The plays the recently-played feed would ever show (music, not private, >= 30 s)."""
        return [p for p in self.truth(user_id, start, end) if p.api_visible]

    def reachable_truth(self, user_id: str, start: datetime, end: datetime) -> list[TruePlay]:
        """The api-visible plays that ended in [start, end) and that the feed showed at some moment
        up to the clock's now: what a poller could have captured at all.

        A late play is shown only if, when it arrives, fewer than 50 shown plays are newer than it;
        newer plays only ever push it further out, so that one moment decides. A play that arrives
        already beyond the latest 50 is lost by Spotify, not by the poller.
        """
        now = self.clock.now()
        # Plays from before `start` can push a late play out too: look back far enough.
        look_back = start - timedelta(days=2)
        visible = [p for p in self.api_visible_truth(user_id, look_back, end) if p.available_at <= now]
        by_arrival = sorted(visible, key=lambda p: (p.available_at, p.ended_at))
        arrived: list[datetime] = []  # ended_at of plays already arrived, sorted
        out = []
        for play in by_arrival:
            newer = len(arrived) - bisect_right(arrived, play.ended_at)
            if newer < RECENTLY_PLAYED_WINDOW and start <= play.ended_at < end:
                out.append(play)
            insort(arrived, play.ended_at)
        return sorted(out, key=lambda p: p.ended_at)

    def write_export(
        self, user_id: str, folder: Path, kind: str, start: datetime, end: datetime
    ) -> list[Path]:
        plays = self.truth(user_id, start, end)
        if kind == "extended":
            return write_extended_export(plays, self.catalog, Path(folder), username=user_id)
        if kind == "account":
            return write_account_export(plays, self.catalog, Path(folder))
        raise ValueError(f"export kind must be 'extended' or 'account', not {kind!r}")

    # --- HTTP ----------------------------------------------------------------------------------------
    def wsgi_app(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        client_id: str | None = None
        fault = self.faults.take(request.method, request.path)
        if fault is not None and fault.kind in ("drop", "timeout"):
            self.state.record(
                CallRecord(request.method, request.path, None, _claimed_client(request, self.state))
            )
            return self._drop(environ, fault, start_response)
        if fault is not None and fault.kind == "slow":
            self.sleep(fault.delay)
        if fault is not None and fault.kind not in ("slow", "malformed"):
            response = _fault_response(fault)
            client_id = _claimed_client(request, self.state)
        else:
            response, client_id = self._dispatch(request)
            if fault is not None and fault.kind == "malformed":
                data = response.get_data()
                response.set_data(data[: max(1, len(data) // 2)])
        self.state.record(CallRecord(request.method, request.path, response.status_code, client_id))
        return response(environ, start_response)

    def _dispatch(self, request: Request) -> tuple[Response, str | None]:
        path = request.path
        if path == "/authorize":
            return self.accounts.authorize(request), request.args.get("client_id")
        if path == "/api/token":
            return self.accounts.token(request), _claimed_client(request, self.state)
        if path == "/v1" or path.startswith("/v1/"):
            token = self.webapi.authenticate(request)
            if isinstance(token, Response):
                return token, None
            return self.webapi.handle(request, path[3:], token), token.client_id
        return json_response(bodies.api_error(404, "Service not found"), 404), None

    def _drop(self, environ: WSGIEnvironment, fault: Fault, start_response: StartResponse) -> Iterable[bytes]:
        sock = environ.get("werkzeug.socket")
        if sock is None:  # in-process: the transport turns these into httpx errors
            raise SimulatedTimeout() if fault.kind == "timeout" else DroppedConnection()
        if fault.kind == "timeout":
            self.sleep(fault.delay)
        # Served: close the socket under the server's feet; the client sees the connection end
        # without an answer. The server then fails to write and drops the request, as a real one would.
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        start_response("500 Internal Server Error", [("Content-Length", "0")])
        return [b""]

    def transport(self) -> httpx.BaseTransport:
        """An httpx transport serving accounts.spotify.com and api.spotify.com (any host) in-process."""
        return SimulatorTransport(self)


class SimulatorTransport(httpx.BaseTransport):
    def __init__(self, sim: Simulator) -> None:
        self._inner = httpx.WSGITransport(app=sim.wsgi_app)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return self._inner.handle_request(request)
        except DroppedConnection:
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            ) from None
        except SimulatedTimeout:
            raise httpx.ReadTimeout("The read operation timed out", request=request) from None


def _fault_response(fault: Fault) -> Response:
    if fault.kind == "status":
        return json_response(bodies.SERVER_ERRORS[fault.status], fault.status)
    if fault.kind == "rate_limit_no_header":
        return Response(b"", status=429)
    body = bodies.QUOTA_EXCEEDED if fault.kind == "quota" else bodies.RATE_LIMITED
    return json_response(body, 429, {"Retry-After": str(fault.retry_after)})


def _claimed_client(request: Request, state: SimState) -> str | None:
    """The client id a request names (for the call log only: it is not authenticated here)."""
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        with state.lock:
            token = state.access_tokens.get(header[7:].strip())
        return token.client_id if token else None
    if header[:6].lower() == "basic ":
        try:
            return base64.b64decode(header[6:].strip()).decode("utf-8").partition(":")[0] or None
        except (binascii.Error, UnicodeDecodeError):
            return None
    if request.mimetype == "application/x-www-form-urlencoded":
        return request.form.get("client_id") or request.args.get("client_id")
    return request.args.get("client_id")
