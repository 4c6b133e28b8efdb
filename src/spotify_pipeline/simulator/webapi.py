"""api.spotify.com/v1: the endpoints the pipeline uses, with Spotify's rules and error bodies.

Order of checks for every call, as the real gateway answers: bearer token (401), Development-Mode
allowlist (plain-text 403), rate limit (429), endpoint, scope (403), parameters (400), lookup (404).
Facts and their sources are in docs/spotify-api.md §2, §4 and §5; choices made where Spotify is
silent say so where they are made.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from werkzeug.wrappers import Request, Response

from ..clock import Clock, to_ms
from . import bodies
from .accounts import json_response
from .ids import is_spotify_id, spotify_id
from .library import Library, LibraryError
from .objects import album_object, artist_object, audio_features_object, context_object, track_object
from .ratelimit import RollingWindowLimiter
from .state import AccessToken, SimState, SimulatorConfig

if TYPE_CHECKING:
    from .catalog import Catalog
    from .model import ListeningModel, TruePlay

RECENTLY_PLAYED_WINDOW = 50  # "Returns the most recent 50 tracks played by a user."
BATCH_LIMITS = {"tracks": 50, "artists": 50, "albums": 20, "audio-features": 100}
SEARCH_TYPES = ("album", "artist", "playlist", "track", "show", "episode", "audiobook")
SEARCH_MAX_OFFSET = 1000


class ApiError(Exception):
    """Raised inside a handler to answer with a Spotify error body."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


def bad_request(message: str) -> ApiError:
    return ApiError(400, bodies.api_error(400, message))


def played_at_text(when: datetime) -> str:
    """ISO-8601 UTC with milliseconds and ``Z``, keeping a trailing zero (``.750Z``), as Spotify sends it."""
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


@dataclass(frozen=True)
class Caller:
    """Who is calling: the user and app behind a valid access token."""

    token: AccessToken

    @property
    def user_id(self) -> str:
        return self.token.user_id

    def require_scope(self, scope: str) -> None:
        if scope not in self.token.scopes:
            raise ApiError(403, bodies.INSUFFICIENT_SCOPE)


class WebApi:
    def __init__(
        self,
        state: SimState,
        clock: Clock,
        config: Callable[[], SimulatorConfig],
        catalog: Catalog,
        model: ListeningModel,
        limiter: RollingWindowLimiter,
    ) -> None:
        self.state = state
        self.clock = clock
        self._config = config
        self.catalog = catalog
        self.model = model
        self.limiter = limiter
        self.library: Library | None = None  # artist albums and playlists (simulator/library.py)
        # The listening model is not promised to be thread-safe; the window cache saves the
        # repeated generation of one user's recent plays while the (manual) clock stands still.
        self.model_lock = threading.Lock()
        self._window_cache: dict[tuple[str, datetime], list[TruePlay]] = {}
        self._routes: dict[str, Callable[[Request, Caller, str], Any]] = {
            "/me/player/recently-played": self.recently_played,
            "/me/following": self.following,
            "/me": self.me,
            "/tracks": self.batch,
            "/artists": self.batch,
            "/albums": self.batch,
            "/audio-features": self.batch,
            "/search": self.search,
        }

    @property
    def mode(self) -> str:
        return self._config().mode

    # --- the gateway -----------------------------------------------------------------------------
    def authenticate(self, request: Request) -> AccessToken | Response:
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            return self._unauthorized("missing_token")
        with self.state.lock:
            token = self.state.access_tokens.get(value.strip())
        if token is None or self.clock.now() >= token.expires_at:
            return self._unauthorized("invalid_token")
        return token

    @staticmethod
    def _unauthorized(error: str) -> Response:
        # Since ~2026-07 one message for missing, invalid and expired tokens; the header tells them apart.
        return json_response(
            bodies.TOKEN_INVALID_2026,
            401,
            {"WWW-Authenticate": f'Bearer realm="spotify", error="{error}"'},
        )

    def handle(self, request: Request, path: str, token: AccessToken) -> Response:
        """Serve ``path`` (below /v1) for a caller whose token is valid."""
        config = self._config()
        with self.state.lock:
            user = self.state.users.get(token.user_id)
        if config.mode == "development" and (user is None or not user.registered):
            return Response(
                bodies.USER_NOT_REGISTERED_TEXT, status=403, content_type="text/plain; charset=utf-8"
            )
        retry_after = self.limiter.admit(token.client_id, self.clock.now())
        if retry_after is not None:
            return json_response(bodies.RATE_LIMITED, 429, {"Retry-After": str(retry_after)})
        try:
            extra = self.library.match(request.method, path) if self.library is not None else None
            if extra is not None:
                try:
                    body, status = extra(request, Caller(token), path)
                except LibraryError as err:
                    return json_response(err.body, err.status)
                return json_response(body, status)
            if request.method != "GET":
                raise ApiError(405, bodies.api_error(405, "Method not allowed"))
            handler, rest = self._route(path)
            return json_response(handler(request, Caller(token), rest), 200)
        except ApiError as err:
            return json_response(err.body, err.status, err.headers)

    def _route(self, path: str) -> tuple[Callable[[Request, Caller, str], Any], str]:
        if path in self._routes:
            return self._routes[path], ""
        kind, sep, item = path.strip("/").partition("/")
        if sep and "/" not in item and kind in ("tracks", "artists", "albums", "audio-features"):
            return self.single, path
        raise ApiError(404, bodies.api_error(404, "Service not found"))

    # --- recently played -------------------------------------------------------------------------
    def recent_window(self, user_id: str, now: datetime) -> list[TruePlay]:
        """The latest 50 plays the feed shows at ``now``, newest first.

        Visible: music, not private, at least 30 s (TruePlay.api_visible), ended, and arrived
        (``available_at`` <= now; late plays arrive after newer ones). Nothing older is reachable.
        """
        key = (user_id, now)
        with self.model_lock:
            cached = self._window_cache.get(key)
            if cached is not None:
                return cached
            with self.state.lock:
                account = self.state.users.get(user_id)
            since = account.since if account else now - timedelta(days=30)
            lookback = timedelta(days=2)
            while True:
                start = max(since, now - lookback)
                plays = self.model.plays(user_id, start, now + timedelta(milliseconds=1))
                shown = [p for p in plays if p.api_visible and p.ended_at <= now and p.available_at <= now]
                # Plays before ``start`` all have older played_at than any play in range, so once
                # the range holds 50 visible plays, the latest 50 overall are among them.
                if len(shown) >= RECENTLY_PLAYED_WINDOW or start <= since:
                    break
                lookback *= 2
            shown.sort(key=lambda p: p.ended_at, reverse=True)
            window = shown[:RECENTLY_PLAYED_WINDOW]
            if len(self._window_cache) > 256:
                self._window_cache.clear()
            self._window_cache[key] = window
            return window

    def recently_played(self, request: Request, caller: Caller, _: str) -> dict[str, Any]:
        caller.require_scope("user-read-recently-played")
        args = request.args
        limit = _int_param(args.get("limit"), default=20, low=1, high=50, message="Invalid limit")
        after = _int_param(args.get("after"), default=None, low=0, message="Invalid after")
        before = _int_param(args.get("before"), default=None, low=0, message="Invalid before")
        if after is not None and before is not None:
            # Spotify documents the rule ("If after is specified, before must not be"); the text is ours.
            raise bad_request("Only one of after or before may be specified")
        window = self.recent_window(caller.user_id, self.clock.now())
        if before is not None:
            window = [p for p in window if to_ms(p.ended_at) < before]
        elif after is not None:
            # Undocumented which plays come back when more than `limit` are newer than `after`:
            # the newest ones, so a client polling only with `after` misses the rest (a gap to detect).
            window = [p for p in window if to_ms(p.ended_at) > after]
        page = window[:limit]
        base = f"{_api_base(request)}/me/player/recently-played"
        href_params = {k: v for k, v in args.items(multi=False)}
        href_params["limit"] = str(limit)
        items = [
            {
                "track": track_object(self.catalog, p.track_id, self.mode),
                "played_at": played_at_text(p.ended_at),
                "context": context_object(p.context),
            }
            for p in page
            if p.track_id is not None
        ]
        cursors = None
        next_url = None
        if page:
            cursors = {"after": str(to_ms(page[0].ended_at)), "before": str(to_ms(page[-1].ended_at))}
            next_params = {k: v for k, v in href_params.items() if k not in ("after", "before")}
            next_params["before"] = cursors["before"]
            next_url = f"{base}?{_query(next_params)}"
        # No `total`: the spec lists it, real responses never carry it (spotify/web-api#1405).
        return {
            "items": items,
            "next": next_url,
            "cursors": cursors,
            "limit": limit,
            "href": f"{base}?{_query(href_params)}",
        }

    # --- followed artists ------------------------------------------------------------------------
    def following(self, request: Request, caller: Caller, _: str) -> dict[str, Any]:
        caller.require_scope("user-follow-read")
        args = request.args
        kind = args.get("type")
        if not kind:
            raise bad_request("No type given")  # SpotifyAPI-NET#461 relays this text
        if kind != "artist":
            raise bad_request(f"Invalid type: {kind}")
        limit = _int_param(args.get("limit"), default=20, low=1, high=50, message="Invalid limit")
        after = args.get("after")
        with self.model_lock:
            followed = list(self.model.followed_artists(caller.user_id, self.clock.now()))
        remaining = [a for a in followed if after is None or a > after]
        page = remaining[:limit]
        more = len(remaining) > limit
        base = f"{_api_base(request)}/me/following"
        href = f"{base}?type=artist" + (f"&after={after}" if after is not None else "") + f"&limit={limit}"
        last = page[-1] if page and more else None
        return {
            "artists": {
                "items": [artist_object(self.catalog, a, self.mode) for a in page],
                "next": f"{base}?type=artist&after={last}&limit={limit}" if last else None,
                "total": len(followed),
                "cursors": {"after": last},
                "limit": limit,
                "href": href,
            }
        }

    # --- current user ----------------------------------------------------------------------------
    def me(self, request: Request, caller: Caller, _: str) -> dict[str, Any]:
        user_id = caller.user_id
        out: dict[str, Any] = {}
        extended = self.mode == "extended"
        scopes = caller.token.scopes
        # Removed for Development Mode (Feb 2026 changelog); in extended mode only with their scopes.
        if extended and "user-read-private" in scopes:
            out["country"] = "SE"
        out["display_name"] = user_id.replace("_", " ").title()
        if extended and "user-read-email" in scopes:
            out["email"] = f"{user_id}@example.com"
        if extended and "user-read-private" in scopes:
            out["explicit_content"] = {"filter_enabled": False, "filter_locked": False}
        out["external_urls"] = {"spotify": f"https://open.spotify.com/user/{user_id}"}
        if extended:
            out["followers"] = {"href": None, "total": 0}
        out["href"] = f"https://api.spotify.com/v1/users/{user_id}"
        out["id"] = user_id
        out["images"] = []
        if extended and "user-read-private" in scopes:
            out["product"] = "premium"
        out["type"] = "user"
        out["uri"] = f"spotify:user:{user_id}"
        out["account_id"] = spotify_id("account", user_id)[:10]
        return out

    # --- catalog -----------------------------------------------------------------------------------
    def single(self, request: Request, caller: Caller, path: str) -> dict[str, Any]:
        kind, _, item_id = path.strip("/").partition("/")
        if kind == "audio-features" and self.mode == "development":
            raise ApiError(403, bodies.FORBIDDEN_AUDIO_FEATURES)
        if not is_spotify_id(item_id):
            raise ApiError(400, bodies.INVALID_ID)
        found = self._lookup(kind, item_id)
        if found is None:
            raise ApiError(404, bodies.NON_EXISTING_ID)
        return found

    def _lookup(self, kind: str, item_id: str) -> dict[str, Any] | None:
        cat = self.catalog
        if kind == "tracks":
            return track_object(cat, item_id, self.mode) if item_id in cat.tracks else None
        if kind == "artists":
            return artist_object(cat, item_id, self.mode) if item_id in cat.artists else None
        if kind == "albums":
            return album_object(cat, item_id, self.mode) if item_id in cat.albums else None
        return audio_features_object(cat, item_id) if item_id in cat.tracks else None

    def batch(self, request: Request, caller: Caller, _: str) -> dict[str, Any]:
        kind = request.path.rstrip("/").rsplit("/", 1)[-1]
        if self.mode == "development":
            # Removed for Development Mode: Feb 2026 for tracks/artists/albums, 2024-11 for audio features.
            body = bodies.FORBIDDEN_AUDIO_FEATURES if kind == "audio-features" else bodies.FORBIDDEN_DEVMODE
            raise ApiError(403, body)
        raw = request.args.get("ids", "")
        ids = [i for i in raw.split(",")] if raw else []
        if not ids:
            raise ApiError(400, bodies.INVALID_ID)
        if len(ids) > BATCH_LIMITS[kind]:
            raise ApiError(400, bodies.TOO_MANY_IDS)
        if any(not is_spotify_id(i) for i in ids):
            raise ApiError(400, bodies.INVALID_ID)
        key = "audio_features" if kind == "audio-features" else kind
        return {key: [self._lookup(kind, i) for i in ids]}

    def search(self, request: Request, caller: Caller, _: str) -> dict[str, Any]:
        args = request.args
        query = args.get("q", "")
        if not query.strip():
            raise bad_request("No search query")
        types = [t for t in args.get("type", "").split(",") if t]
        if not types:
            raise bad_request("Missing parameter type")
        if any(t not in SEARCH_TYPES for t in types):
            raise bad_request("Bad search type field")
        if types != ["track"]:
            # Only track search is simulated (name -> id resolution); say so rather than invent results.
            raise bad_request("The simulator only answers type=track searches")
        # Development Mode since Feb 2026: limit max 10, default 5 (was 50 and 20).
        dev = self.mode == "development"
        limit = _int_param(
            args.get("limit"),
            default=5 if dev else 20,
            low=1,
            high=10 if dev else 50,
            message="Invalid limit",
        )
        offset = _int_param(
            args.get("offset"), default=0, low=0, high=SEARCH_MAX_OFFSET, message="Invalid offset"
        )
        matches = self.catalog.search_tracks(query, SEARCH_MAX_OFFSET + limit)
        page = matches[offset : offset + limit]
        base = f"{_api_base(request)}/search"

        def link(at: int) -> str:
            return f"{base}?{urlencode({'query': query, 'type': 'track', 'offset': at, 'limit': limit})}"

        return {
            "tracks": {
                "href": link(offset),
                "items": [track_object(self.catalog, t, self.mode) for t in page],
                "limit": limit,
                "next": link(offset + limit) if offset + limit < len(matches) else None,
                "offset": offset,
                "previous": link(max(0, offset - limit)) if offset > 0 else None,
                "total": len(matches),
            }
        }


def _int_param(
    value: str | None, *, default: int | None, low: int, high: int | None = None, message: str
) -> Any:
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise bad_request(message) from None
    if number < low or (high is not None and number > high):
        raise bad_request(message)
    return number


def _query(params: dict[str, str]) -> str:
    """Query parameters sorted by name, as Spotify writes them in `href` and `next`
    (e.g. ``before=...&limit=50&type=track`` in the recorded pages)."""
    return urlencode(sorted(params.items()))


def _api_base(request: Request) -> str:
    """``https://api.spotify.com/v1`` in-process, ``http://127.0.0.1:PORT/v1`` when served."""
    return request.host_url.rstrip("/") + "/v1"
