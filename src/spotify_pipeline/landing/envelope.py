"""The raw object format: each Spotify response as it was sent, with fetch metadata beside it.

```json
{"format": "spotify-pipeline.raw/1", "kind": "recently_played", "user": "alice",
 "fetches": [{"fetched_at": "2026-11-29T10:10:03.120Z", "request": "GET /v1/me/player/recently-played?limit=50",
              "status": 200, "response": {"items": [...], ...}}]}
```

Pure: no clock, no I/O. Merging is a union of fetches, so a second fetch in the same hour (a retry, a
manual run, a racing writer) can only add to an object, never take away from it.

Files from the original system are read too: a bare Spotify page or a list of pages, and what the
original DAGs' code really wrote, the concatenated ``items`` of all pages as one list (play-history
items, or artist objects; ``[]`` when there was nothing). :func:`.decode.parse_object` wraps them into an
envelope whose fetch metadata is unknown (``None``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from itertools import groupby
from typing import Any

from .keys import KINDS

FORMAT = "spotify-pipeline.raw/1"
_FETCH_FIELDS = ("fetched_at", "request", "status", "response")


def format_fetched_at(when: datetime) -> str:
    """``2026-11-29T10:10:03.120Z``: UTC, milliseconds, so that the strings sort in time order."""
    if when.tzinfo is None:
        raise ValueError("fetched_at must be timezone-aware")
    return (
        when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{when.astimezone(UTC).microsecond // 1000:03d}Z"
    )


def make_fetch(fetched_at: datetime, request: str, status: int, response: Any) -> dict[str, Any]:
    """One fetch record. ``request`` is method + path and query only: never a token or a host secret."""
    return {
        "fetched_at": format_fetched_at(fetched_at),
        "request": request,
        "status": status,
        "response": response,
    }


def new_envelope(kind: str, user: str | None, fetches: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """A fresh envelope; fetches are checked, deduplicated and ordered like :func:`merge_envelopes` does."""
    return assemble_envelope(kind, user, _checked(kind, fetches))


def merge_envelopes(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> dict[str, Any]:
    """The union of both envelopes' fetches, in fetched_at order. Never holds less than ``old``.

    Raises ValueError when the two describe different things (kind or user), since merging those
    would mix two listeners' or two endpoints' data in one object.
    """
    incoming = _checked(new["kind"], new["fetches"])  # validates the incoming fetches
    if old is None:
        return assemble_envelope(new["kind"], new.get("user"), incoming)
    if old["kind"] != new["kind"]:
        raise ValueError(f"cannot merge a {new['kind']} envelope into a {old['kind']} object")
    old_user, new_user = old.get("user"), new.get("user")
    if old_user is not None and new_user is not None and old_user != new_user:
        raise ValueError(f"cannot merge user {new_user!r}'s fetches into user {old_user!r}'s object")
    held = [_Fetch(f) for f in old["fetches"]]
    kept = _distinct([*held, *(_Fetch(f) for f in incoming)])
    # The promise this module exists for; checked explicitly so that `python -O` keeps it. Every old
    # fetch must be in the union itself or have an identical twin there (identities computed once).
    by_bucket: dict[tuple[Any, ...], list[_Fetch]] = {}
    for k in kept:
        by_bucket.setdefault(k.bucket, []).append(k)
    for h in held:
        twins = by_bucket.get(h.bucket, [])
        if not any(t is h for t in twins) and not any(t.identity == h.identity for t in twins):
            raise AssertionError("merge_envelopes would drop a fetch the old object held")
    return {
        "format": FORMAT,
        "kind": old["kind"],
        "user": old_user if old_user is not None else new_user,
        "fetches": _ordered(kept),
    }


def _checked(kind: str, fetches: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    if kind not in KINDS:
        raise ValueError(f"unknown raw object kind {kind!r}: expected one of {', '.join(KINDS)}")
    checked = []
    for i, fetch in enumerate(fetches):
        problem = fetch_problem(fetch)
        if problem:
            raise ValueError(f"fetch {i}: {problem}")
        checked.append(fetch)
    return checked


def assemble_envelope(kind: str, user: str | None, checked: list[Mapping[str, Any]]) -> dict[str, Any]:
    """An envelope of fetches already checked (``_checked`` or ``fetch_problem``)."""
    return {"format": FORMAT, "kind": kind, "user": user, "fetches": _union([], checked)}


def fetch_identity(fetch: Mapping[str, Any]) -> str:
    """Two fetches are the same fetch when every field is equal (key order inside JSON ignored)."""
    return _identity(fetch)


def _identity(fetch: Mapping[str, Any]) -> str:
    return json.dumps(fetch, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


class _Fetch:
    """A fetch with what deduplication and ordering need, each computed at most once.

    Identity is the canonical JSON of the whole fetch, the one slow part (a page of 50 full track
    objects takes about a millisecond to encode), so it is computed lazily: two fetches can only be
    identical when their ``bucket`` (fetched_at, request, status as written) is equal, and only then,
    or when two distinct fetches share a fetched_at and their order needs a tie-break, is it encoded.
    """

    __slots__ = ("fetch", "bucket", "time_key", "_identity")

    def __init__(self, fetch: Mapping[str, Any]) -> None:
        self.fetch = fetch
        self.bucket = tuple(_hashable(fetch.get(name)) for name in ("fetched_at", "request", "status"))
        self.time_key = _time_key(fetch)
        self._identity: str | None = None

    @property
    def identity(self) -> str:
        if self._identity is None:
            self._identity = _identity(self.fetch)
        return self._identity


def _hashable(value: Any) -> Any:
    # Equal canonical JSON implies equal Python values for these types, so equal identities always
    # share a bucket; anything else (a malformed value) falls into one catch-all bucket.
    return value if value is None or isinstance(value, str | int) else "\x00other"


def _time_key(fetch: Mapping[str, Any]) -> tuple[int, str]:
    # Unknown times (legacy pages) first, then by time; the canonical JSON breaks ties (``_ordered``)
    # so the order, and with it the bytes written, do not depend on which writer came first.
    at = fetch.get("fetched_at")
    if not isinstance(at, str):
        return (0, "")
    try:
        return (1, format_fetched_at(datetime.fromisoformat(at.replace("Z", "+00:00"))))
    except ValueError:
        return (1, at)


def _distinct(fetches: Iterable[_Fetch]) -> list[_Fetch]:
    """The first of each set of identical fetches, in input order."""
    kept: list[_Fetch] = []
    by_bucket: dict[tuple[Any, ...], list[_Fetch]] = {}
    for k in fetches:
        same = by_bucket.setdefault(k.bucket, [])
        if any(other.identity == k.identity for other in same):
            continue
        same.append(k)
        kept.append(k)
    return kept


def _ordered(kept: list[_Fetch]) -> list[dict[str, Any]]:
    """Normalized fetches sorted by (time, canonical JSON); the JSON is only encoded for ties."""
    out: list[dict[str, Any]] = []
    for _, group in groupby(sorted(kept, key=lambda k: k.time_key), key=lambda k: k.time_key):
        tied = list(group)
        if len(tied) > 1:
            tied.sort(key=lambda k: k.identity)
        out.extend(_normalized(k.fetch) for k in tied)
    return out


def _union(a: list[Mapping[str, Any]], b: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return _ordered(_distinct(_Fetch(f) for f in [*a, *b]))


def _normalized(fetch: Mapping[str, Any]) -> dict[str, Any]:
    # Known fields first in a fixed order; fields a newer writer added are kept (sorted), not dropped.
    out = {name: fetch[name] for name in _FETCH_FIELDS}
    out.update((k, fetch[k]) for k in sorted(fetch) if k not in _FETCH_FIELDS)
    return out


def fetch_problem(fetch: Any) -> str | None:
    if not isinstance(fetch, Mapping):
        return f"expected an object, got {describe(fetch)}"
    missing = [name for name in _FETCH_FIELDS if name not in fetch]
    if missing:
        return "missing " + ", ".join(repr(m) for m in missing)
    at = fetch["fetched_at"]
    if at is not None:
        if not isinstance(at, str):
            return f"'fetched_at' must be an ISO time or null, got {describe(at)}"
        try:
            parsed = datetime.fromisoformat(at.replace("Z", "+00:00"))
        except ValueError:
            return f"'fetched_at' {at!r} is not an ISO time"
        if parsed.tzinfo is None:
            return f"'fetched_at' {at!r} has no time zone"
    if fetch["request"] is not None and not isinstance(fetch["request"], str):
        return f"'request' must be a string or null, got {describe(fetch['request'])}"
    status = fetch["status"]
    if status is not None and (not isinstance(status, int) or isinstance(status, bool)):
        return f"'status' must be an HTTP status code or null, got {describe(status)}"
    return None


def describe(value: Any) -> str:
    """A short, secret-free description of a JSON value's shape, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number" if isinstance(value, float) else "int"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        if not value:
            return "empty list"
        names = sorted({_short(v) for v in value})
        return "list of " + " and ".join(names)
    if isinstance(value, dict):
        keys = list(value)[:5]
        more = ", ..." if len(value) > 5 else ""
        return "object with keys " + ", ".join(repr(k) for k in keys) + more if keys else "empty object"
    return type(value).__name__


def _short(value: Any) -> str:
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "list"
    return describe(value)
