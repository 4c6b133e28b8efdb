"""The Web API calls recommending needs, on top of ``SpotifyClient``'s request loop (refresh on
401, backoff, 429 pauses): an artist's albums and singles, and private playlists written back.

Facts (docs/spotify-api.md §2.4, §2.5): ``GET /artists/{id}/albums`` pages with ``limit`` at most
10 in Development Mode; ``POST /me/playlists`` creates a playlist (private with ``"public": false``,
which needs the ``playlist-modify-private`` scope); ``PUT /playlists/{id}/items`` replaces the whole
list (at most 100 URIs a request), so repeating it changes nothing; a playlist the user deleted
answers 404; a token without the scope answers 403.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from .client import FetchMeta, SpotifyClient

ALBUM_GROUPS = "album,single"
ALBUMS_PAGE_LIMIT = 10  # the most Development Mode allows
MAX_ITEMS = 100


class PlaylistGone(Exception):
    """The remembered playlist answers 404: the user deleted it."""


class PlaylistScopeMissing(Exception):
    """403: the login lacks ``playlist-modify-private``."""


@dataclass(frozen=True)
class CreatedPlaylist:
    id: str
    snapshot_id: str | None


def artist_albums(
    client: SpotifyClient, artist_id: str, max_pages: int
) -> list[tuple[dict[str, Any], FetchMeta]]:
    """Up to ``max_pages`` pages of the artist's albums and singles (newest first within each group)."""
    template = "/artists/{id}/albums"
    url: str | None = f"{client.api_url}/artists/{quote(artist_id, safe='')}/albums"
    params: dict[str, Any] | None = {"include_groups": ALBUM_GROUPS, "limit": ALBUMS_PAGE_LIMIT}
    pages: list[tuple[dict[str, Any], FetchMeta]] = []
    while url is not None and len(pages) < max_pages:
        page, meta = client._get_page(template, url, params)
        pages.append((page, meta))
        following = page.get("next")
        # Follow `next` on the API's own origin only, so the bearer token never leaves it.
        url = following if isinstance(following, str) and following.startswith(client.api_url) else None
        params = None
    return pages


def create_private_playlist(client: SpotifyClient, name: str, description: str) -> CreatedPlaylist:
    template = "/me/playlists"
    body = {"name": name, "public": False, "description": description}
    response, answer = client._request(
        template, f"{client.api_url}{template}", None, method="POST", json=body
    )
    _refuse_scope(response.status_code)
    if response.status_code not in (200, 201) or not isinstance(answer, dict) or not answer.get("id"):
        raise client._error(response, answer, template)
    snapshot = answer.get("snapshot_id")
    return CreatedPlaylist(str(answer["id"]), snapshot if isinstance(snapshot, str) else None)


def replace_items(client: SpotifyClient, playlist_id: str, uris: list[str]) -> str | None:
    """Make the playlist hold exactly ``uris`` (at most 100); returns the new snapshot id."""
    if len(uris) > MAX_ITEMS:
        raise ValueError(f"a playlist update takes at most {MAX_ITEMS} items, got {len(uris)}")
    template = "/playlists/{id}/items"
    url = f"{client.api_url}/playlists/{quote(playlist_id, safe='')}/items"
    response, answer = client._request(template, url, None, method="PUT", json={"uris": uris})
    if response.status_code == 404:
        raise PlaylistGone(playlist_id)
    _refuse_scope(response.status_code)
    if response.status_code not in (200, 201):
        raise client._error(response, answer, template)
    snapshot = answer.get("snapshot_id") if isinstance(answer, dict) else None
    return snapshot if isinstance(snapshot, str) else None


def album_track_uris(client: SpotifyClient, album_id: str, limit: int) -> list[str]:
    """The first ``limit`` track URIs of an album (one single lookup, allowed in every mode)."""
    album = client.album(album_id)
    tracks = album.get("tracks") if isinstance(album, dict) else None
    items = tracks.get("items") if isinstance(tracks, dict) else None
    if not isinstance(items, list):
        return []
    return [f"spotify:track:{i['id']}" for i in items if isinstance(i, dict) and i.get("id")][:limit]


def _refuse_scope(status: int) -> None:
    if status == 403:
        raise PlaylistScopeMissing()


__all__ = [
    "CreatedPlaylist",
    "PlaylistGone",
    "PlaylistScopeMissing",
    "album_track_uris",
    "artist_albums",
    "create_private_playlist",
    "replace_items",
]


def playlist_uris(client: SpotifyClient, playlist_id: str) -> list[str] | None:
    """The first 100 track URIs of a playlist (``GET /playlists/{id}``); None when it answers 404."""
    template = "/playlists/{id}"
    url = f"{client.api_url}/playlists/{quote(playlist_id, safe='')}"
    response, answer = client._request(template, url, {"fields": "items(item(uri))"})
    if response.status_code == 404:
        return None
    _refuse_scope(response.status_code)
    if response.status_code != 200 or not isinstance(answer, dict):
        raise client._error(response, answer, template)
    page = answer.get("items")
    items = page.get("items") if isinstance(page, dict) else None
    out = []
    for entry in items if isinstance(items, list) else []:
        item = entry.get("item") if isinstance(entry, dict) else None
        uri = item.get("uri") if isinstance(item, dict) else None
        if isinstance(uri, str):
            out.append(uri)
    return out
