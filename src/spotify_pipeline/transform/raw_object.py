"""One landed raw object (a checked envelope, see ``landing.decode.parse_object``) -> everything the
warehouse loads from it. Pure: no clock (the caller passes ``now``), no I/O, no SQL.

Only ever raises ``MalformedRawObject(key, reason)``: a malformed record, a page of the wrong shape
or a fetch whose bookkeeping fields are junk all make the object malformed, and the loader
quarantines it whole (it loads one object per transaction, so nothing of it is half-loaded). The
envelope's own fields were checked when it was parsed; the fields a writer adds freely (``run_id``,
``page``, ``last_page``) and every response are checked here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..errors import MalformedRawObject, MalformedRecord
from . import fields as f
from .following import followed_artist_rows
from .metadata import album_row, artist_row, audio_features_row, track_rows
from .recently_played import ItemCache, recently_played_rows
from .releases import ReleaseCheck, release_checks
from .rows import AlbumRow, ArtistRow, AudioFeaturesRow, CatalogRows, RecentlyPlayedRows
from .timestamps import parse_played_at

_LOOKUP = re.compile(r"GET /v1/(artists|albums|tracks|audio-features)/([A-Za-z0-9]+)")


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One complete followed-artists fetch (all its pages): who was followed at ``seen_at``."""

    seen_at: datetime
    artists: list[ArtistRow]


@dataclass(frozen=True, slots=True)
class Lookup:
    """One metadata lookup enrich made: ``rows`` is None when Spotify had no such object (404)."""

    kind: str  # artists | albums | tracks | audio-features
    ident: str
    at: datetime
    rows: ArtistRow | AlbumRow | CatalogRows | AudioFeaturesRow | None

    @property
    def miss_kind(self) -> str:
        """The ``metadata_misses.kind`` the readers ask for (artist | album | track | audio_features)."""
        return MISS_KINDS[self.kind]


# Endpoint name of a lookup -> the kind a miss is recorded under (warehouse/reads.py asks by it).
MISS_KINDS = {"artists": "artist", "albums": "album", "tracks": "track", "audio-features": "audio_features"}


@dataclass(slots=True)
class ObjectRows:
    pages: list[RecentlyPlayedRows] = field(default_factory=list)
    snapshots: list[Snapshot] = field(default_factory=list)
    lookups: list[Lookup] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # loaded anyway, but the user should know
    release_checks: list[ReleaseCheck] = field(default_factory=list)


def object_rows(
    kind: str, envelope: dict[str, Any], user: str, key: str, now: datetime, cache: ItemCache | None = None
) -> ObjectRows:
    """The rows of one raw object of ``kind`` for ``user``; ``now`` stands in for unknown fetch times.
    ``cache``: rows of items earlier objects of the run held (``ItemCache`` says when it is exact)."""
    try:
        fetches = f.req_list(envelope, "fetches", "the envelope")
        if kind == "recently_played":
            return ObjectRows(pages=[recently_played_rows(r, user, key, cache) for r in _responses(fetches)])
        if kind == "following_artists":
            return _following(fetches, key, now)
        if kind == "metadata":
            return ObjectRows(lookups=[_lookup(fetch, i, key, now) for i, fetch in enumerate(fetches)])
        if kind == "artist_albums":
            return ObjectRows(release_checks=release_checks(fetches, now))
        raise MalformedRawObject(key, f"unknown raw object kind {kind!r}")
    except MalformedRecord as exc:
        where = f"record {exc.index}" if exc.source == key else f"{exc.source} {exc.index}"
        raise MalformedRawObject(key, f"{where}: {exc.reason}") from None
    except f.BadField as exc:
        raise MalformedRawObject(key, str(exc)) from None


def _responses(fetches: list[Any]) -> list[Any]:
    # A failed fetch (a 5xx answer landed with its status) holds no page; None is a page the
    # original DAGs saved, which they only did for successful answers.
    return [fetch.get("response") for fetch in _fetch_objects(fetches) if fetch.get("status") in (200, None)]


def _fetch_objects(fetches: list[Any]) -> list[dict[str, Any]]:
    return [f.obj(fetch, f"fetch {i}") for i, fetch in enumerate(fetches)]


def _following(fetches: list[Any], key: str, now: datetime) -> ObjectRows:
    out = ObjectRows()
    runs: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for i, fetch in enumerate(_fetch_objects(fetches)):
        if fetch.get("status") not in (200, None):
            continue
        run = fetch.get("run_id") or fetch.get("fetched_at") or "legacy"
        if not isinstance(run, str):
            raise f.BadField(f"fetch {i}.run_id is {f.describe(run)}, expected a string")
        page = fetch.get("page", 0)
        if isinstance(page, bool) or not isinstance(page, int):
            raise f.BadField(f"fetch {i}.page is {f.describe(page)}, expected an integer")
        runs.setdefault(run, []).append((page, fetch))
    ordered = sorted(runs.values(), key=lambda pages: _fetched_at_text(pages[0][1]))
    for run_pages in ordered:
        pages = [fetch for _, fetch in sorted(run_pages, key=lambda p: p[0])]
        complete = any(fetch.get("last_page") is True for fetch in pages) or _ends(pages[-1].get("response"))
        if not complete:
            out.problems.append(f"{key}: an incomplete followed-artists snapshot was not folded")
            continue
        artists: list[ArtistRow] = []
        for fetch in pages:
            artists.extend(followed_artist_rows(fetch.get("response"), key))
        out.snapshots.append(Snapshot(_fetched_at(pages[-1], "the last page") or now, artists))
    return out


def _ends(page: Any) -> bool:
    inner = page.get("artists") if isinstance(page, dict) else None
    return isinstance(inner, dict) and inner.get("next") is None


def _fetched_at_text(fetch: dict[str, Any]) -> str:
    value = fetch.get("fetched_at")
    return value if isinstance(value, str) else ""


def _fetched_at(fetch: dict[str, Any], where: str) -> datetime | None:
    value = fetch.get("fetched_at")
    if value is None:
        return None
    try:
        return parse_played_at(value)
    except ValueError as exc:
        raise f.BadField(f"{where}: fetched_at: {exc}") from None


def _lookup(fetch: Any, index: int, key: str, now: datetime) -> Lookup:
    o = f.obj(fetch, f"fetch {index}")
    request = o.get("request")
    match = _LOOKUP.match(request) if isinstance(request, str) else None
    if match is None:
        raise MalformedRawObject(key, f"fetch {index}: unknown metadata request {f.describe(request)}")
    kind, ident = match.groups()
    f.text(ident, f"fetch {index}: the id in the request", f.ID)
    at = _fetched_at(o, f"fetch {index}") or now
    obj = o.get("response")
    if o.get("status") == 404 or obj is None:
        return Lookup(kind, ident, at, None)
    source = f"fetch {index} ({kind})"
    rows: ArtistRow | AlbumRow | CatalogRows | AudioFeaturesRow
    if kind == "artists":
        rows = artist_row(obj, source=source)
    elif kind == "albums":
        rows = album_row(obj, source=source)
    elif kind == "audio-features":
        rows = audio_features_row(obj, source=source)
    else:
        rows = track_rows(obj, source=source)
    return Lookup(kind, ident, at, rows)
