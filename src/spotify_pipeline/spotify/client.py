"""SpotifyClient: the only code that talks to the Web API.

What it does on each answer (spotify-api.md §4 and §7):

* 401: refresh the access token once and repeat the request; a second 401 is an error.
* 5xx, timeouts, connection errors, and a 200 whose body is not JSON: bounded exponential backoff
  with full jitter, then ``SpotifyApiError``.
* 429: wait inside the run only when Retry-After is at most ``retry_after_cap``; otherwise record
  ``paused_until`` in the state store and raise ``RateLimitPaused`` (``QuotaExceeded`` for a
  QUOTA_EXCEEDED body). Every later call until then raises without touching the network.
* 403 on a batch endpoint or audio features: remembered per app (``capabilities``), and the per-id
  path (or "unavailable") is used from then on.

Headers are never logged, and no token ever reaches an exception, a repr or a log record.
"""

from __future__ import annotations

import collections
import functools
import logging
import random
import time
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NoReturn, TypeVar
from urllib.parse import quote

import httpx
from pydantic import SecretStr

from ..clock import Clock
from ..errors import (
    AuthError,
    ConfigError,
    LoginRequired,
    QuotaExceeded,
    RateLimitPaused,
    SpotifyApiError,
    SpotifyUnreachable,
)
from ..redact import redact, register_secret
from ..settings import Settings
from . import auth
from .capabilities import ALBUMS_BATCH, ARTISTS_BATCH, AUDIO_FEATURES, TRACKS_BATCH, Capabilities
from .paging import CursorNextPaginator
from .pause import PAUSE_KEY as PAUSE_KEY
from .pause import read_pause, record_pause
from .retry import NO_RETRY_AFTER_PAUSE, QUOTA_REASON, BackoffPolicy, is_transient_status, retry_after_seconds
from .state import StateStore
from .tokens import TokenState, TokenStore

log = logging.getLogger(__name__)

TOKEN_ENDPOINT = auth.TOKEN_ENDPOINT
_T = TypeVar("_T")


@dataclass(frozen=True)
class FetchMeta:
    """How a page was fetched: kept beside the raw payload in the raw zone."""

    request: str  # e.g. "GET /v1/me/player/recently-played?limit=50"; never a token
    status: int
    fetched_at: datetime


class SpotifyClient:
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
        self._client_secret = client_secret
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
        self._token_state: TokenState | None = None

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
    ) -> SpotifyClient:
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

    def __enter__(self) -> SpotifyClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SpotifyClient(api_url={self.api_url!r}, client_id={self.client_id!r})"

    # ---------------------------------------------------------------- endpoints: user data

    def recently_played(
        self, limit: int = 50, before: int | None = None, after: int | None = None
    ) -> tuple[dict[str, Any], FetchMeta]:
        """One page of recently played tracks, as Spotify sent it."""
        if not 1 <= limit <= 50:
            raise ValueError(f"recently_played limit must be 1..50, got {limit}")
        if before is not None and after is not None:
            raise ValueError("recently_played takes `before` or `after`, not both")
        params: dict[str, Any] = {"limit": limit}
        if before is not None:
            params["before"] = before
        if after is not None:
            params["after"] = after
        return self._get_page(
            "/me/player/recently-played", f"{self.api_url}/me/player/recently-played", params
        )

    def followed_artists(self, limit: int = 50) -> list[tuple[dict[str, Any], FetchMeta]]:
        """Every page of followed artists, following `next` on the API origin only."""
        if not 1 <= limit <= 50:
            raise ValueError(f"followed_artists limit must be 1..50, got {limit}")
        template = "/me/following"
        paginator = CursorNextPaginator(self.api_url, f"GET {self._path(template)}", container="artists")
        pages: list[tuple[dict[str, Any], FetchMeta]] = []
        url: str | None = f"{self.api_url}{template}"
        params: dict[str, Any] | None = {"type": "artist", "limit": limit}
        while url is not None:
            page, meta = self._get_page(template, url, params)
            pages.append((page, meta))
            paginator.update_state(page)
            url, params = paginator.next_url(), None  # `next` carries its own query
        return pages

    def me(self) -> dict[str, Any]:
        page, _meta = self._get_page("/me", f"{self.api_url}/me", None)
        return page

    # ---------------------------------------------------------------- endpoints: catalog

    def track(self, id: str) -> dict[str, Any] | None:  # noqa: A002 - the contract's name
        return self._single("tracks", id)

    def artist(self, id: str) -> dict[str, Any] | None:  # noqa: A002
        return self._single("artists", id)

    def album(self, id: str) -> dict[str, Any] | None:  # noqa: A002
        return self._single("albums", id)

    def artists(self, ids: list[str]) -> dict[str, dict[str, Any] | None]:
        return self._batch("artists", ids, 50, ARTISTS_BATCH)

    def albums(self, ids: list[str]) -> dict[str, dict[str, Any] | None]:
        return self._batch("albums", ids, 20, ALBUMS_BATCH)

    def tracks(self, ids: list[str]) -> dict[str, dict[str, Any] | None]:
        return self._batch("tracks", ids, 50, TRACKS_BATCH)

    def audio_features(self, ids: list[str]) -> dict[str, dict[str, Any] | None] | None:
        """Features by track id (None per unknown id); None as a whole when this app may not have them."""
        wanted = _unique(ids)
        now = self.clock.now()
        if not self.capabilities.allowed(AUDIO_FEATURES, now):
            return None
        template = "/audio-features"
        out: dict[str, dict[str, Any] | None] = {}
        for chunk in _chunks(wanted, 100):
            response, body = self._request(template, f"{self.api_url}{template}", {"ids": ",".join(chunk)})
            if response.status_code == 403:
                self.capabilities.deny(AUDIO_FEATURES, now, 403, self._message(response, body))
                return None
            if response.status_code != 200:
                raise self._error(response, body, template)
            items = _list_in(body, "audio_features", f"GET {self._path(template)}")
            out.update(_by_position(chunk, items))
        self.capabilities.grant(AUDIO_FEATURES)
        return out

    def search_track(self, track: str, artist: str) -> str | None:
        """The id of the best match for a track and artist name (exports of account data carry only
        names), or None when no result has that artist."""
        clean_track, clean_artist = track.replace('"', " ").strip(), artist.replace('"', " ").strip()
        if not clean_track:
            return None
        query = f"track:{clean_track}" + (f" artist:{clean_artist}" if clean_artist else "")
        template = "/search"
        # Development mode caps search at limit=10 (spotify-api.md §5).
        page, _meta = self._get_page(
            template, f"{self.api_url}{template}", {"q": query, "type": "track", "limit": 5}
        )
        tracks = page.get("tracks")
        items = tracks.get("items") if isinstance(tracks, dict) else None
        if not isinstance(items, list):
            return None
        best_id, best_score = None, 0
        for item in items:
            if not isinstance(item, dict) or not item.get("id"):
                continue
            score = _match_score(item, clean_track, clean_artist)
            if score > best_score:
                best_id, best_score = str(item["id"]), score
        return best_id

    # ---------------------------------------------------------------- catalog helpers

    def _single(self, kind: str, spotify_id: str) -> dict[str, Any] | None:
        template = f"/{kind}/{{id}}"
        response, body = self._request(template, f"{self.api_url}/{kind}/{quote(spotify_id, safe='')}", None)
        if response.status_code == 200:
            if not isinstance(body, dict):
                raise SpotifyApiError(200, "the body is not a JSON object", f"GET {self._path(template)}")
            return body
        if response.status_code == 404:
            return None
        if response.status_code == 400:
            # "invalid id": the id cannot name anything, which for a lookup means "no such object".
            log.warning(
                "Spotify calls %s id %r invalid (%s); treating it as not found",
                kind,
                spotify_id,
                self._message(response, body),
            )
            return None
        raise self._error(response, body, template)

    def _batch(
        self, kind: str, ids: list[str], size: int, capability: str
    ) -> dict[str, dict[str, Any] | None]:
        wanted = _unique(ids)
        out: dict[str, dict[str, Any] | None] = {}
        now = self.clock.now()
        if wanted and self.capabilities.allowed(capability, now):
            template = f"/{kind}"
            used_batch = False
            for chunk in _chunks(wanted, size):
                response, body = self._request(
                    template, f"{self.api_url}{template}", {"ids": ",".join(chunk)}
                )
                if response.status_code == 403:
                    self.capabilities.deny(capability, now, 403, self._message(response, body))
                    break
                if response.status_code == 400:
                    # One malformed id spoils the whole batch; look this chunk up one by one.
                    log.warning(
                        "Spotify refused a %s batch (%s); looking those ids up one at a time",
                        kind,
                        self._message(response, body),
                    )
                    continue
                if response.status_code != 200:
                    raise self._error(response, body, template)
                out.update(_by_position(chunk, _list_in(body, kind, f"GET {self._path(template)}")))
                used_batch = True
            if used_batch:
                self.capabilities.grant(capability)
        for spotify_id in wanted:
            if spotify_id not in out:
                out[spotify_id] = self._single(kind, spotify_id)
        return out

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
        serve the playlist writes (``spotify/playlists.py``), which replace whole lists and so may
        be repeated safely.
        """
        endpoint = f"{method} {self._path(template)}"
        self._check_paused(endpoint)
        refreshed_on_401 = False
        retry = 0
        while True:
            token = self._access_token()
            self.calls[endpoint] += 1
            try:
                response = self.http.request(
                    method, url, params=params, json=json, headers={"Authorization": f"Bearer {token}"}
                )
            except httpx.TransportError as exc:
                status, failure = 0, f"no answer ({type(exc).__name__}: {redact(str(exc))[:120]})"
            else:
                status = response.status_code
                log.debug("%s -> %s", endpoint, status)
                body = _json_or_none(response)
                if status == 401:
                    if refreshed_on_401:
                        raise SpotifyApiError(
                            401, self._message(response, body) + " (even after a token refresh)", endpoint
                        )
                    refreshed_on_401 = True
                    self._refresh(force=True)
                    continue
                if status == 429:
                    self._on_429(response, body, endpoint, retry)
                    retry += 1
                    continue
                if status == 403 and body is None and "not registered" in response.text.lower():
                    raise AuthError(
                        'Spotify answered 403 "User not registered in the Developer Dashboard": add this '
                        "Spotify account under User Management of your app in the Spotify Developer Dashboard "
                        "(Development Mode allows at most 5 users), then run again"
                    )
                if is_transient_status(status):
                    failure = self._message(response, body)
                elif status == 200 and body is None:
                    failure = "the 200 answer is not valid JSON"
                else:
                    return response, body
            self._wait_or_give_up(endpoint, status, failure, retry)
            retry += 1

    # ---------------------------------------------------------------- 429 and the pause

    def paused_until(self) -> tuple[datetime, str] | None:
        """The recorded pause, when it is still in the future (capped at ``max_pause_seconds``)."""
        pause = read_pause(self.state, self.clock.now(), self.max_pause)
        return (pause.until, pause.reason) if pause else None

    def _check_paused(self, endpoint: str) -> None:
        pause = read_pause(self.state, self.clock.now(), self.max_pause)
        if pause is None:
            return
        log.info("skipping %s: Spotify calls are paused until %s", endpoint, pause.until.isoformat())
        raise (QuotaExceeded if pause.kind == "quota" else RateLimitPaused)(pause.until, pause.reason)

    def _pause(self, seconds: float | None, reason: str, kind: str, endpoint: str) -> NoReturn:
        pause = record_pause(
            self.state,
            self.clock.now(),
            seconds,
            NO_RETRY_AFTER_PAUSE,
            reason=reason,
            kind=kind,
            endpoint=endpoint,
            max_pause=self.max_pause,
        )
        log.warning("%s; pausing Spotify calls until %s", pause.reason, pause.until.isoformat())
        raise (QuotaExceeded if kind == "quota" else RateLimitPaused)(pause.until, pause.reason)

    def _on_429(self, response: httpx.Response, body: Any, endpoint: str, retry: int) -> None:
        """Sleep a short Retry-After, or record a pause and raise."""
        wait = retry_after_seconds(response.headers, self.clock.now())
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict) and error.get("reason") == QUOTA_REASON:
            self._pause(
                wait,
                f"Spotify says this app's quota is used up (429 QUOTA_EXCEEDED on {endpoint})",
                "quota",
                endpoint,
            )
        if wait is None:
            self._pause(
                None,
                f"Spotify answered 429 on {endpoint} {_retry_after_problem(response.headers)} (paused 1 h by policy)",
                "rate_limit",
                endpoint,
            )
        if wait > self.retry_after_cap:
            self._pause(
                wait,
                f"Spotify asked to wait {wait:.0f} s on {endpoint} (Retry-After), longer than the "
                f"{self.retry_after_cap:.0f} s a run waits (retry_after_cap_seconds)",
                "rate_limit",
                endpoint,
            )
        if retry >= self.backoff.max_retries:
            self._pause(
                max(wait, self.retry_after_cap),
                f"Spotify kept answering 429 on {endpoint} after {retry + 1} short waits",
                "rate_limit",
                endpoint,
            )
        log.warning("%s: 429, waiting %.1f s as Retry-After asks", endpoint, wait)
        self.sleep(wait)

    # ---------------------------------------------------------------- tokens

    def _access_token(self) -> str:
        if self._token_state is None:
            stored = self.token_store.load()
            if stored is None:
                raise LoginRequired("no Spotify login is stored")
            if stored.client_id != self.client_id:
                raise LoginRequired(
                    f"the stored login belongs to Spotify app {stored.client_id}, but client_id is {self.client_id}"
                )
            self._token_state = stored
        if self._token_state.access_expired(self.clock.now()):
            self._refresh(force=False)
        return self._token_state.access_token.get_secret_value()

    def _refresh(self, *, force: bool) -> None:
        """Refresh the access token and save the result before anything else happens.

        A rotated refresh token makes the old one single-use-and-spent (PKCE), so the new one must
        be on disk before any further request can fail. Another process (the daily and the bihourly
        job) may have rotated it already: the store is read first, and again after an
        ``invalid_grant``, and a newer token found there is used instead of giving up.
        """
        current = self._token_state
        assert current is not None
        for attempt in range(2):
            latest = self.token_store.load()
            if (
                latest is not None
                and latest.client_id == self.client_id
                and latest.refresh_token != current.refresh_token
            ):
                log.info("the token store holds a newer Spotify token (refreshed by another run); using it")
                current = self._token_state = latest
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
                self._token_state = None
                raise
            if self.token_store.replace(current, fresh):
                self._token_state = fresh
                return
            # Another worker saved a newer token between our read and our write: theirs is the
            # stored one (a rotated refresh token of ours would be lost anyway); use it, never
            # overwrite it. When the login was removed meanwhile, this run still uses its token.
            latest = self.token_store.load()
            log.info("another run saved a newer Spotify token while this one refreshed; using the stored one")
            self._token_state = latest if latest is not None and latest.client_id == self.client_id else fresh
            return

    def _refresh_once(self, current: TokenState) -> TokenState:
        return auth.refresh(self.http, self.accounts_url, current, self._secret(), self.clock.now())

    def _secret(self) -> str | None:
        return self._client_secret.get_secret_value() if self._client_secret is not None else None

    def _with_backoff(self, call: Callable[[], _T]) -> _T:
        """Run a token-endpoint call, retrying server failures and lost connections."""
        retry = 0
        while True:
            self.calls[TOKEN_ENDPOINT] += 1
            try:
                return call()
            except httpx.TransportError as exc:
                status, failure = 0, f"no answer ({type(exc).__name__}: {redact(str(exc))[:120]})"
            except SpotifyApiError as exc:
                if not is_transient_status(exc.status) and exc.status != 200:
                    raise
                status, failure = exc.status, exc.api_message
            self._wait_or_give_up(TOKEN_ENDPOINT, status, failure, retry)
            retry += 1

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


# ---------------------------------------------------------------- small helpers


def _host(url: str) -> str:
    """``api.spotify.com`` or ``127.0.0.1:8901``: where a request went, for messages."""
    parts = httpx.URL(url)
    return f"{parts.host}:{parts.port}" if parts.port else parts.host


def _retry_after_problem(headers: httpx.Headers) -> str:
    value = headers.get("retry-after")
    if value is None:
        return "without Retry-After"
    return f"with an unusable Retry-After {redact(value.strip())[:40]!r}"


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:  # JSONDecodeError and UnicodeDecodeError both are ValueErrors
        return None


def _unique(ids: list[str]) -> list[str]:
    return list(dict.fromkeys(i for i in ids if i))


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _list_in(body: Any, key: str, endpoint: str) -> list[Any]:
    items = body.get(key) if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise SpotifyApiError(200, f"the body has no {key!r} list", endpoint)
    return items


def _by_position(ids: list[str], items: list[Any]) -> dict[str, dict[str, Any] | None]:
    """Spotify answers a batch in the order asked, with null for an unknown id."""
    return {i: (item if isinstance(item, dict) else None) for i, item in zip(ids, items, strict=False)}


def _norm(text: str) -> str:
    text = unicodedata.normalize("NFKD", text).casefold()
    return " ".join("".join(ch for ch in text if ch.isalnum() or ch.isspace()).split())


def _base_title(text: str) -> str:
    """'Song - 2011 Remaster' / 'Song (Live)' -> 'song'."""
    for sep in (" - ", " (", " ["):
        text = text.split(sep, 1)[0]
    return _norm(text)


def _match_score(item: dict[str, Any], track: str, artist: str) -> int:
    names = [_norm(str(a.get("name", ""))) for a in item.get("artists", []) if isinstance(a, dict)]
    if artist and _norm(artist) not in names:
        return 0
    title = str(item.get("name", ""))
    if _norm(title) == _norm(track):
        return 3
    if _base_title(title) == _base_title(track):
        return 2
    return 1
