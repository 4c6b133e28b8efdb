"""The access token on every Web API request, as an ``httpx.Auth`` flow.

``TokenKeeper`` holds this run's token: it loads the stored login, refreshes the access token a
minute before it expires, and saves each refresh through the token store's compare-and-set
(``TokenStore.replace``) so two runs sharing one login never lose a rotated refresh token.

``BearerAuth`` is the flow httpx runs around one logical request: it sets ``Authorization:
Bearer ...``, and on a 401 refreshes once and sends the request again. A second 401 in the same
logical request (even across the caller's backoff retries) comes back to the caller unrefreshed:
``SpotifyClient`` reports it as an error. The refresh does I/O (the token store, the token
endpoint), so the flow is ``sync_auth_flow`` (httpx's place for flows that do I/O); the client is
synchronous and the async flow refuses.
"""

from __future__ import annotations

import collections
import functools
import logging
from collections.abc import AsyncGenerator, Callable, Generator
from typing import TypeVar

import httpx
from pydantic import SecretStr

from ..clock import Clock
from ..errors import LoginRequired, SpotifyApiError
from .oauth import TOKEN_ENDPOINT, refresh
from .retry import is_transient_status, no_answer
from .tokens import TokenState, TokenStore

log = logging.getLogger(__name__)

_T = TypeVar("_T")

#: ``(endpoint, status, failure, retry)``: sleep the backoff of ``retry`` or raise when used up.
WaitOrGiveUp = Callable[[str, int, str, int], None]


class TokenKeeper:
    """This run's Spotify token: loaded once, refreshed when due, saved by compare-and-set."""

    def __init__(
        self,
        *,
        http: httpx.Client,
        accounts_url: str,
        client_id: str,
        client_secret: SecretStr | None,
        token_store: TokenStore,
        clock: Clock,
        calls: collections.Counter[str],
        wait_or_give_up: WaitOrGiveUp,
    ) -> None:
        self.http = http
        self.accounts_url = accounts_url
        self.client_id = client_id
        self._client_secret = client_secret
        self.token_store = token_store
        self.clock = clock
        self.calls = calls
        self._wait_or_give_up = wait_or_give_up
        self.state: TokenState | None = None

    def __repr__(self) -> str:
        return f"TokenKeeper(client_id={self.client_id!r})"

    def access_token(self) -> str:
        """The access token to send now: loaded from the store the first time, refreshed when due."""
        if self.state is None:
            stored = self.token_store.load()
            if stored is None:
                raise LoginRequired("no Spotify login is stored")
            if stored.client_id != self.client_id:
                raise LoginRequired(
                    f"the stored login belongs to Spotify app {stored.client_id}, but client_id is {self.client_id}"
                )
            self.state = stored
        if self.state.access_expired(self.clock.now()):
            self.refresh(force=False)
        return self.state.access_token.get_secret_value()

    def refresh(self, *, force: bool) -> None:
        """Refresh the access token and save the result before anything else happens.

        A rotated refresh token makes the old one single-use-and-spent (PKCE), so the new one must
        be on disk before any further request can fail. Another process (the daily and the bihourly
        job) may have rotated it already: the store is read first, and again after an
        ``invalid_grant``, and a newer token found there is used instead of giving up.
        """
        current = self.state
        assert current is not None
        for attempt in range(2):
            latest = self._newer_than(current)
            if latest is not None:
                log.info("the token store holds a newer Spotify token (refreshed by another run); using it")
                current = self.state = latest
                if not force and not latest.access_expired(self.clock.now()):
                    return
            try:
                fresh = self._with_backoff(functools.partial(self._refresh_once, current))
            except LoginRequired:
                latest = self.token_store.load()
                if attempt == 0 and latest is not None and latest.refresh_token != current.refresh_token:
                    continue
                # Terminal (spotify-api.md §3.2: "discard the token ... Do not retry the refresh"),
                # but only the token that failed: a newer one saved meanwhile stays.
                self.token_store.delete_if(current)
                self.state = None
                raise
            self._save(current, fresh)
            return

    def _newer_than(self, current: TokenState) -> TokenState | None:
        latest = self.token_store.load()
        if (
            latest is not None
            and latest.client_id == self.client_id
            and latest.refresh_token != current.refresh_token
        ):
            return latest
        return None

    def _save(self, current: TokenState, fresh: TokenState) -> None:
        if self.token_store.replace(current, fresh):
            self.state = fresh
            return
        # Another worker saved a newer token between our read and our write: theirs is the
        # stored one (a rotated refresh token of ours would be lost anyway); use it, never
        # overwrite it. When the login was removed meanwhile, this run still uses its token.
        latest = self.token_store.load()
        log.info("another run saved a newer Spotify token while this one refreshed; using the stored one")
        self.state = latest if latest is not None and latest.client_id == self.client_id else fresh

    def _refresh_once(self, current: TokenState) -> TokenState:
        secret = self._client_secret.get_secret_value() if self._client_secret is not None else None
        return refresh(self.http, self.accounts_url, current, secret, self.clock.now())

    def _with_backoff(self, call: Callable[[], _T]) -> _T:
        """Run a token-endpoint call, retrying server failures and lost connections."""
        retry = 0
        while True:
            self.calls[TOKEN_ENDPOINT] += 1
            try:
                return call()
            except httpx.TransportError as exc:
                status, failure = 0, no_answer(exc)
            except SpotifyApiError as exc:
                if not is_transient_status(exc.status) and exc.status != 200:
                    raise
                status, failure = exc.status, exc.api_message
            self._wait_or_give_up(TOKEN_ENDPOINT, status, failure, retry)
            retry += 1


class BearerAuth(httpx.Auth):
    """Bearer token on one logical request; on a 401, one refresh and one more try.

    Made afresh for each logical request, so ``refreshed`` spans the caller's retries of it: a
    request that already had its refresh gets no second one.
    """

    requires_response_body = True  # the 401 is read before the refresh, freeing its connection

    def __init__(self, tokens: TokenKeeper, on_send: Callable[[], None]) -> None:
        self.tokens = tokens
        self.on_send = on_send  # counts every request that goes out, retries included
        self.refreshed = False

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self.tokens.access_token()}"
        self.on_send()
        response = yield request
        if response.status_code != 401 or self.refreshed:
            return
        self.refreshed = True
        self.tokens.refresh(force=True)
        request.headers["Authorization"] = f"Bearer {self.tokens.access_token()}"
        self.on_send()
        yield request

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        raise RuntimeError("BearerAuth refreshes with blocking I/O: use it with httpx.Client only")
        yield request  # pragma: no cover - makes this an async generator
