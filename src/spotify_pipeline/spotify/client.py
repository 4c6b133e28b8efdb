"""SpotifyClient: the only code that talks to the Web API, one method an endpoint.

The request loop it stands on (bearer token and refresh on 401, backoff, the 429 pause) is
``ApiSession`` in ``session.py``. Here: what each endpoint takes and gives back, and the catalog's
batch lookups. A 403 on a batch endpoint or audio features is remembered per app
(``capabilities``), and the per-id path (or "unavailable") is used from then on; an id Spotify
calls invalid (400) is an object not found.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from ..errors import SpotifyApiError
from .capabilities import ALBUMS_BATCH, ARTISTS_BATCH, AUDIO_FEATURES, TRACKS_BATCH
from .paging import CursorNextPaginator
from .pause import PAUSE_KEY
from .search import SEARCH_LIMIT, best_track_id, search_terms, track_query
from .session import ApiSession, FetchMeta

log = logging.getLogger(__name__)

__all__ = ["PAUSE_KEY", "FetchMeta", "SpotifyClient"]


class SpotifyClient(ApiSession):
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
        clean_track, clean_artist = search_terms(track, artist)
        if not clean_track:
            return None
        template = "/search"
        params = {"q": track_query(clean_track, clean_artist), "type": "track", "limit": SEARCH_LIMIT}
        page, _meta = self._get_page(template, f"{self.api_url}{template}", params)
        return best_track_id(page, clean_track, clean_artist)

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


# ---------------------------------------------------------------- small helpers


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
