"""``artist_albums`` raw objects -> release checks and the releases they saw. Pure.

Each fetch is one page of ``GET /v1/artists/{id}/albums``; the artist is read from the request
line, as for the metadata lookups. A fetch that failed (a non-200 status) records a check with no
albums, so the budget still counts it; the albums of every page of one check are its releases.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from . import fields as f
from .metadata import parse_album
from .rows import AlbumRow, CatalogRows
from .timestamps import parse_played_at

_REQUEST = re.compile(r"GET /(?:[^ ]*/)?artists/([A-Za-z0-9]+)/albums")


@dataclass(frozen=True, slots=True)
class ReleaseCheck:
    """One page of one artist's albums, fetched at ``checked_at``."""

    artist_id: str
    checked_at: datetime
    status: int | None
    albums: list[AlbumRow] = field(default_factory=list)
    catalog: CatalogRows = field(default_factory=CatalogRows)


def release_checks(fetches: list[Any], now: datetime) -> list[ReleaseCheck]:
    """Raises ``fields.BadField`` naming the fetch for anything malformed."""
    out = []
    for i, raw in enumerate(fetches):
        fetch = f.obj(raw, f"fetch {i}")
        request = fetch.get("request")
        match = _REQUEST.match(request) if isinstance(request, str) else None
        if match is None:
            raise f.BadField(f"fetch {i}: not an artist-albums request: {f.describe(request)}")
        artist_id = f.text(match.group(1), f"fetch {i}: the artist id in the request", f.ID)
        at_text = fetch.get("fetched_at")
        try:
            at = parse_played_at(at_text) if isinstance(at_text, str) else now
        except ValueError as exc:
            raise f.BadField(f"fetch {i}: fetched_at: {exc}") from None
        status = fetch.get("status")
        if status is not None and (isinstance(status, bool) or not isinstance(status, int)):
            raise f.BadField(f"fetch {i}: status is {f.describe(status)}, expected an integer")
        check = ReleaseCheck(artist_id, at, status)
        if status in (200, None):
            page = f.obj(fetch.get("response"), f"fetch {i}.response")
            for j, item in enumerate(f.req_list(page, "items", f"fetch {i}.response")):
                check.albums.append(
                    parse_album(item, f"fetch {i}.response.items[{j}]", full=False, into=check.catalog)
                )
        out.append(check)
    return out
