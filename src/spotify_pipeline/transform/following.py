"""A followed-artists page (``GET /me/following?type=artist``) -> full artist rows.

The response wraps its paging object in ``{"artists": {...}}``. One page is part of a snapshot; the
job folds the union of all pages of one fetch into the followed-artists history.
"""

from __future__ import annotations

from typing import Any

from ..errors import MalformedRawObject, MalformedRecord
from . import fields as f
from .metadata import parse_artist
from .rows import ArtistRow


def followed_artist_rows(page: Any, source_key: str) -> list[ArtistRow]:
    """The followed artists of one page, each id once, in page order (full artist objects)."""
    if not isinstance(page, dict) or not isinstance(page.get("artists"), dict):
        raise MalformedRawObject(source_key, "no 'artists' object: not a followed-artists response")
    items = page["artists"].get("items")
    if not isinstance(items, list):
        raise MalformedRawObject(source_key, "artists.items is not a list: not a followed-artists response")
    rows: list[ArtistRow] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        try:
            artist = parse_artist(item, "artist", full=True)
        except f.BadField as exc:
            raise MalformedRecord(source_key, index, str(exc)) from None
        if artist.id not in seen:
            seen.add(artist.id)
            rows.append(artist)
    return rows
