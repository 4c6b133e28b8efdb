"""The request loop under ``SpotifyClient``: one place that sends a Web API request and judges the answer.

What it does on each answer (spotify-api.md §4 and §7):

* 401: ``BearerAuth`` refreshes the access token once and repeats the request; a second 401 is an error.
* 5xx, timeouts, connection errors, and a 200 whose body is not JSON: bounded exponential backoff
  with full jitter, then ``SpotifyApiError`` (``SpotifyUnreachable`` when nothing answered).
* 429: ``PauseGuard`` waits inside the run only when Retry-After is at most ``retry_after_cap``;
  otherwise it records ``paused_until`` in the state store and raises ``RateLimitPaused``
  (``QuotaExceeded`` for a QUOTA_EXCEEDED body). Every later call until then raises without
  touching the network.

Every other answer goes back to the caller with its parsed JSON, to judge. Headers are never
logged, and no token ever reaches an exception, a repr or a log record.
"""

from __future__ import annotations

import collections
import functools
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Self

import httpx
from pydantic import SecretStr

from ..clock import Clock
from ..errors import AuthError, ConfigError, SpotifyApiError, SpotifyUnreachable
from ..redact import redact, register_secret
from ..settings import Settings
from .bearer import BearerAuth, TokenKeeper
from .capabilities import Capabilities
from .oauth import TOKEN_ENDPOINT
from .pause import PauseGuard
from .retry import BackoffPolicy, is_transient_status, no_answer
from .state import StateStore
from .tokens import TokenStore

log = logging.getLogger(__name__)

_NOT_REGISTERED = (
    'Spotify answered 403 "User not registered in the Developer Dashboard": add this '
    "Spotify account under User Management of your app in the Spotify Developer Dashboard "
    "(Development Mode allows at most 5 users), then run again"
)


@dataclass(frozen=True)
class FetchMeta:
    """How a page was fetched: kept beside the raw payload in the raw zone."""

    request: str  # e.g. "GET /v1/me/player/recently-played?limit=50"; never a token
    status: int
    fetched_at: datetime


class ApiSession:
    """Requests to the Web API with a bearer token, backoff, and the 429 pause."""

    def __init__(
        self,
        *,
        http: httpx.Client,
        api_url: str,
        accounts_url: str,
        client_id: str,
        client_secret: SecretStr | None,
        token_store: TokenStore,
        state: StateStore,
        clock: Clock,
        sleep: Callable[[float], None] = time.sleep,
        backoff: BackoffPolicy | None = None,
        retry_after_cap_seconds: float = 30.0,
        max_pause_seconds: float = 86400.0,
    ) -> None:
        self.http = http
        self.api_url = api_url.rstrip("/")
        self.accounts_url = accounts_url.rstrip("/")
        self.client_id = client_id
        register_secret(client_secret)
        self.token_store = token_store
        self.state = state
        self.clock = clock
        self.sleep = sleep
        self.backoff = backoff or BackoffPolicy(max_retries=5, base_seconds=0.5)
        self.retry_after_cap = retry_after_cap_seconds
        self.max_pause = timedelta(seconds=max_pause_seconds)
        self.capabilities = Capabilities(state, client_id)
        self.calls: collections.Counter[str] = collections.Counter()
        self.tokens = TokenKeeper(
            http=http,
            accounts_url=self.accounts_url,
            client_id=client_id,
            client_secret=client_secret,
            token_store=token_store,
            clock=clock,
            calls=self.calls,
            wait_or_give_up=self._wait_or_give_up,
        )
        self.pauses = PauseGuard(
            state=state,
            clock=clock,
            sleep=sleep,
            retry_after_cap=self.retry_after_cap,
            max_pause=self.max_pause,
            max_retries=self.backoff.max_retries,
        )

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        token_store: TokenStore,
        state: StateStore,
        *,
        clock: Clock,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> Self:
        if not settings.client_id:
            raise ConfigError(
                "client_id is not set (env SPOTIFY_PIPELINE_CLIENT_ID): set your Spotify app's id"
            )
        http = httpx.Client(
            transport=transport, timeout=settings.request_timeout_seconds, follow_redirects=False
        )
        return cls(
            http=http,
            api_url=settings.api_url,
            accounts_url=settings.accounts_url,
            client_id=settings.client_id,
            client_secret=settings.client_secret,
            token_store=token_store,
            state=state,
            clock=clock,
            sleep=sleep,
            backoff=BackoffPolicy(
                max_retries=settings.max_retries,
                base_seconds=settings.backoff_base_seconds,
                rng=rng or random.Random(),
            ),
            retry_after_cap_seconds=settings.retry_after_cap_seconds,
            max_pause_seconds=settings.max_pause_seconds,
        )

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(api_url={self.api_url!r}, client_id={self.client_id!r})"

    def paused_until(self) -> tuple[datetime, str] | None:
        """The recorded pause, when it is still in the future (capped at ``max_pause_seconds``)."""
        pause = self.pauses.current()
        return (pause.until, pause.reason) if pause else None

    def _access_token(self) -> str:
        return self.tokens.access_token()

    # ---------------------------------------------------------------- the request loop

    def _path(self, template: str) -> str:
        """``/me`` -> ``/v1/me``: the endpoint as people read it."""
        base = httpx.URL(self.api_url).path.rstrip("/")
        return f"{base}{template}"

    def _get_page(
        self, template: str, url: str, params: dict[str, Any] | None
    ) -> tuple[dict[str, Any], FetchMeta]:
        response, body = self._request(template, url, params)
        if response.status_code != 200:
            raise self._error(response, body, template)
        if not isinstance(body, dict):
            raise SpotifyApiError(200, "the body is not a JSON object", f"GET {self._path(template)}")
        request = f"GET {response.request.url.raw_path.decode('ascii')}"
        return body, FetchMeta(request=request, status=response.status_code, fetched_at=self.clock.now())

    def _request(
        self,
        template: str,
        url: str,
        params: dict[str, Any] | None,
        *,
        method: str = "GET",
        json: Any = None,
    ) -> tuple[httpx.Response, Any]:
        """A request with refresh-on-401, backoff on transient failures and 429 handling.

        Returns the response and its parsed JSON (None when the body is not JSON) for any status the
        caller must judge (200, 4xx other than 401/429); raises for the rest. ``method`` and ``json``
        serve the playlist writes (``spotify/library.py``), which replace whole lists and so may
        be repeated safely.
        """
        endpoint = f"{method} {self._path(template)}"
        self.pauses.check(endpoint)
        bearer = BearerAuth(self.tokens, on_send=functools.partial(self.calls.update, [endpoint]))
        retry = 0
        while True:
            try:
                response = self.http.request(method, url, params=params, json=json, auth=bearer)
            except httpx.TransportError as exc:
                status, failure = 0, no_answer(exc)
            else:
                status = response.status_code
                log.debug("%s -> %s", endpoint, status)
                body = _json_or_none(response)
                if status == 429:
                    self.pauses.on_429(response, body, endpoint, retry)
                    retry += 1
                    continue
                transient = self._judge(response, body, endpoint)
                if transient is None:
                    return response, body
                failure = transient
            self._wait_or_give_up(endpoint, status, failure, retry)
            retry += 1

    def _judge(self, response: httpx.Response, body: Any, endpoint: str) -> str | None:
        """None for an answer the caller judges; the failure when it is worth retrying. Raises on
        a 401 that outlived its refresh and on an account the app does not know."""
        status = response.status_code
        if status == 401:  # BearerAuth already refreshed once for this request
            raise SpotifyApiError(
                401, self._message(response, body) + " (even after a token refresh)", endpoint
            )
        if status == 403 and body is None and "not registered" in response.text.lower():
            raise AuthError(_NOT_REGISTERED)
        if is_transient_status(status):
            return self._message(response, body)
        if status == 200 and body is None:
            return "the 200 answer is not valid JSON"
        return None

    def _wait_or_give_up(self, endpoint: str, status: int, failure: str, retry: int) -> None:
        """After a transient failure: sleep the backoff of this ``retry``, or raise once they are used up."""
        if retry >= self.backoff.max_retries:
            gave_up = f"{failure}; gave up after {retry + 1} attempts"
            if status == 0:  # no answer at all: say which host, not "Spotify answered 0"
                base = self.accounts_url if endpoint == TOKEN_ENDPOINT else self.api_url
                raise SpotifyUnreachable(_host(base), gave_up, endpoint)
            raise SpotifyApiError(status, gave_up, endpoint)
        delay = self.backoff.delay(retry)
        log.warning(
            "%s failed (%s); retry %d of %d in %.2f s",
            endpoint,
            failure,
            retry + 1,
            self.backoff.max_retries,
            delay,
        )
        self.sleep(delay)

    # ---------------------------------------------------------------- error text

    def _message(self, response: httpx.Response, body: Any) -> str:
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict) and error.get("message"):
            text = str(error["message"])
        elif isinstance(error, str):
            text = error
        else:
            text = response.text.strip()[:200] or response.reason_phrase or f"HTTP {response.status_code}"
        return redact(text)

    def _error(self, response: httpx.Response, body: Any, template: str) -> SpotifyApiError:
        return SpotifyApiError(
            response.status_code,
            self._message(response, body),
            f"{response.request.method} {self._path(template)}",
        )


def _host(url: str) -> str:
    """``api.spotify.com`` or ``127.0.0.1:8901``: where a request went, for messages."""
    parts = httpx.URL(url)
    return f"{parts.host}:{parts.port}" if parts.port else parts.host


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:  # JSONDecodeError and UnicodeDecodeError both are ValueErrors
        return None
