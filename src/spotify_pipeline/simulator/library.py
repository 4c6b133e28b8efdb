"""The endpoints recommending needs: an artist's albums, and private playlists written back.

``GET /artists/{id}/albums`` (include_groups, limit, offset; an album is listed from its release
day), ``POST /me/playlists`` (and the deprecated ``POST /users/{id}/playlists``, extended mode
only), ``GET /playlists/{id}``, ``PUT /playlists/{id}/items`` (replace) and ``POST
/playlists/{id}/items`` (append), as tests/fixtures/spotify/openapi.yml describes them. The
playlists live in memory per simulator; ``delete_playlist`` plays the user deleting one in the app
(a later call on it answers 404, as Spotify does for a playlist the user removed).
Facts: docs/spotify-api.md §2.4 and §2.5.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request

from . import bodies
from .ids import is_spotify_id, spotify_id
from .objects import _simplified_album_object, track_object
from .releases import released_by

if TYPE_CHECKING:
    from ..clock import Clock
    from .catalog import Catalog
    from .webapi import Caller

GROUPS = ("album", "single", "compilation", "appears_on")
MAX_ITEMS_PER_REQUEST = 100  # "A maximum of 100 items can be set in one request."
WRITE_SCOPES = ("playlist-modify-private", "playlist-modify-public")

Handler = Callable[[Request, "Caller", str], tuple[Any, int]]


class LibraryError(Exception):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(status)
        self.status, self.body = status, body


@dataclass
class Playlist:
    id: str
    owner: str
    name: str
    description: str
    public: bool
    snapshot: str
    created_at: datetime
    uris: list[str] = field(default_factory=list)
    deleted: bool = False


class Library:
    def __init__(self, catalog: Catalog, clock: Clock, mode: Callable[[], str]) -> None:
        self.catalog = catalog
        self.clock = clock
        self._mode = mode
        self.lock = threading.Lock()
        self.playlists: dict[str, Playlist] = {}

    # --- routing ------------------------------------------------------------------------------------
    def match(self, method: str, path: str) -> Handler | None:
        parts = path.strip("/").split("/")
        if method == "GET" and len(parts) == 3 and parts[0] == "artists" and parts[2] == "albums":
            return self.artist_albums
        if method == "POST" and parts == ["me", "playlists"]:
            return self.create_playlist
        if method == "POST" and len(parts) == 3 and parts[0] == "users" and parts[2] == "playlists":
            return self.create_playlist_for_user
        if len(parts) == 2 and parts[0] == "playlists" and method == "GET":
            return self.get_playlist
        if len(parts) == 3 and parts[0] == "playlists" and parts[2] == "items" and method in ("PUT", "POST"):
            return self.replace_items if method == "PUT" else self.add_items
        return None

    # --- artist albums ------------------------------------------------------------------------------
    def artist_albums(self, request: Request, caller: Caller, path: str) -> tuple[Any, int]:
        artist_id = path.strip("/").split("/")[1]
        if not is_spotify_id(artist_id):
            raise LibraryError(400, bodies.INVALID_ID)
        if artist_id not in self.catalog.artists:
            raise LibraryError(404, bodies.NON_EXISTING_ID)
        dev = self._mode() == "development"
        groups = [g for g in request.args.get("include_groups", ",".join(GROUPS)).split(",") if g]
        if any(g not in GROUPS for g in groups):
            raise LibraryError(400, bodies.api_error(400, "Invalid include_groups"))
        limit = _int(request.args.get("limit"), 5 if dev else 20, 1, 10 if dev else 50, "Invalid limit")
        offset = _int(request.args.get("offset"), 0, 0, 100_000, "Invalid offset")
        today = self.clock.now().date()
        found: list[tuple[int, str, str]] = []
        for album in self.catalog.albums.values():
            if artist_id not in album.artist_ids or not released_by(album, today):
                continue
            group = album.album_type if album.artist_ids[0] == artist_id else "appears_on"
            if group in groups:
                found.append((GROUPS.index(group), album.release_date, album.id))
        # Grouped (albums, then singles, ...), newest first within a group, as Spotify lists them.
        found.sort(key=lambda f: (f[0], _negated(f[1]), f[2]))
        page = found[offset : offset + limit]
        extended = not dev
        base = f"{request.host_url.rstrip('/')}/v1/artists/{artist_id}/albums"
        query = f"include_groups={','.join(groups)}&limit={limit}"
        items = []
        for group_index, _date, album_id in page:
            item = _simplified_album_object(self.catalog, self.catalog.albums[album_id], extended)
            item["album_group"] = GROUPS[group_index]
            items.append(item)
        more = offset + limit < len(found)
        return {
            "href": f"{base}?{query}&offset={offset}",
            "items": items,
            "limit": limit,
            "next": f"{base}?{query}&offset={offset + limit}" if more else None,
            "offset": offset,
            "previous": f"{base}?{query}&offset={max(0, offset - limit)}" if offset else None,
            "total": len(found),
        }, 200

    # --- playlists ----------------------------------------------------------------------------------
    def create_playlist(self, request: Request, caller: Caller, _path: str) -> tuple[Any, int]:
        body = _json_body(request)
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            raise LibraryError(400, bodies.api_error(400, "Missing required field: name"))
        public = body.get("public", True)
        if public is not False:
            _require_any(caller, ("playlist-modify-public",))
        else:
            _require_any(caller, ("playlist-modify-private",))
        given = body.get("description")
        description = given if isinstance(given, str) else ""
        now = self.clock.now()
        with self.lock:
            pid = spotify_id("playlist", caller.user_id, len(self.playlists), secrets.token_hex(4))
            playlist = Playlist(pid, caller.user_id, name, description, bool(public), _snapshot(), now)
            self.playlists[pid] = playlist
        return self._playlist_object(request, playlist), 201

    def create_playlist_for_user(self, request: Request, caller: Caller, path: str) -> tuple[Any, int]:
        if self._mode() == "development":
            # Deprecated in the spec: removed for Development Mode apps (spotify-api.md §1).
            raise LibraryError(403, bodies.FORBIDDEN_DEVMODE)
        user = path.strip("/").split("/")[1]
        if user != caller.user_id:
            raise LibraryError(403, bodies.api_error(403, "You cannot create a playlist for another user"))
        return self.create_playlist(request, caller, path)

    def get_playlist(self, request: Request, caller: Caller, path: str) -> tuple[Any, int]:
        playlist = self._find(path, caller, write=False)
        return self._playlist_object(request, playlist), 200

    def replace_items(self, request: Request, caller: Caller, path: str) -> tuple[Any, int]:
        _require_any(caller, WRITE_SCOPES)
        playlist = self._find(path, caller, write=True)
        uris = self._uris(request)
        with self.lock:
            playlist.uris = uris
            playlist.snapshot = _snapshot()
        return {"snapshot_id": playlist.snapshot}, 200

    def add_items(self, request: Request, caller: Caller, path: str) -> tuple[Any, int]:
        _require_any(caller, WRITE_SCOPES)
        playlist = self._find(path, caller, write=True)
        uris = self._uris(request)
        with self.lock:
            playlist.uris.extend(uris)
            playlist.snapshot = _snapshot()
        return {"snapshot_id": playlist.snapshot}, 201

    def delete_playlist(self, playlist_id: str) -> None:
        """The user deletes (unfollows) the playlist in the Spotify app."""
        with self.lock:
            self.playlists[playlist_id].deleted = True

    def _find(self, path: str, caller: Caller, *, write: bool) -> Playlist:
        playlist_id = path.strip("/").split("/")[1]
        if not is_spotify_id(playlist_id):
            raise LibraryError(400, bodies.INVALID_ID)
        with self.lock:
            playlist = self.playlists.get(playlist_id)
        if playlist is None or playlist.deleted:
            raise LibraryError(404, bodies.api_error(404, "Not found."))
        if write and playlist.owner != caller.user_id:
            raise LibraryError(
                403, bodies.api_error(403, "You cannot add tracks to a playlist you don't own.")
            )
        return playlist

    def _uris(self, request: Request) -> list[str]:
        raw = request.args.get("uris")
        uris: Any = raw.split(",") if raw else _json_body(request).get("uris", [])
        if not isinstance(uris, list) or any(not isinstance(u, str) for u in uris):
            raise LibraryError(400, bodies.api_error(400, "Invalid uris"))
        if len(uris) > MAX_ITEMS_PER_REQUEST:
            raise LibraryError(400, bodies.api_error(400, "Too many ids requested"))
        for uri in uris:
            kind, _, item = uri.removeprefix("spotify:").partition(":")
            if kind != "track" or item not in self.catalog.tracks:
                raise LibraryError(400, bodies.api_error(400, "Invalid track uri: " + uri))
        return list(uris)

    def _playlist_object(self, request: Request, p: Playlist) -> dict[str, Any]:
        base = f"{request.host_url.rstrip('/')}/v1/playlists/{p.id}"
        items = [
            {
                "added_at": p.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "added_by": {"id": p.owner, "type": "user", "uri": f"spotify:user:{p.owner}"},
                "is_local": False,
                "item": track_object(self.catalog, uri.rsplit(":", 1)[1], self._mode()),
            }
            for uri in p.uris[:100]
        ]
        page = {"href": f"{base}/items", "items": items, "limit": 100, "next": None, "offset": 0,
                "previous": None, "total": len(p.uris)}  # fmt: skip
        out: dict[str, Any] = {
            "collaborative": False,
            "description": p.description,
            "external_urls": {"spotify": f"https://open.spotify.com/playlist/{p.id}"},
            "href": base,
            "id": p.id,
            "images": [],
            "items": page,
            "name": p.name,
            "owner": {
                "display_name": p.owner,
                "id": p.owner,
                "type": "user",
                "uri": f"spotify:user:{p.owner}",
            },
            "public": p.public,
            "snapshot_id": p.snapshot,
            "type": "playlist",
            "uri": f"spotify:playlist:{p.id}",
        }
        if self._mode() == "extended":
            out["tracks"] = page  # deprecated in the spec: only extended-mode apps still get it
            out["followers"] = {"href": None, "total": 0}
        return out


def _negated(release_date: str) -> str:
    """A key that sorts release dates newest first."""
    return "".join(chr(0x7F - ord(c)) for c in release_date.ljust(10, "0"))


def _snapshot() -> str:
    return secrets.token_urlsafe(24)


def _require_any(caller: Caller, scopes: tuple[str, ...]) -> None:
    if not any(s in caller.token.scopes for s in scopes):
        raise LibraryError(403, bodies.INSUFFICIENT_SCOPE)


def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(request.get_data() or b"{}")
    except ValueError:
        raise LibraryError(400, bodies.api_error(400, "Error parsing JSON.")) from None
    if not isinstance(body, dict):
        raise LibraryError(400, bodies.api_error(400, "Error parsing JSON."))
    return body


def _int(value: str | None, default: int, low: int, high: int, message: str) -> int:
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise LibraryError(400, bodies.api_error(400, message)) from None
    if not low <= number <= high:
        raise LibraryError(400, bodies.api_error(400, message))
    return number
