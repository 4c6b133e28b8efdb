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
items, or artist objects; ``[]`` when there was nothing). :func:`parse_object` wraps them into an
envelope whose fetch metadata is unknown (``None``).
"""

from __future__ import annotations

import gzip
import json
import re
import zlib
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from itertools import groupby
from typing import Any

import msgspec

from ..errors import MalformedRawObject
from .keys import KINDS, is_compressed_key, parse_key

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
    return _envelope(kind, user, _checked(kind, fetches))


def merge_envelopes(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> dict[str, Any]:
    """The union of both envelopes' fetches, in fetched_at order. Never holds less than ``old``.

    Raises ValueError when the two describe different things (kind or user), since merging those
    would mix two listeners' or two endpoints' data in one object.
    """
    incoming = _checked(new["kind"], new["fetches"])  # validates the incoming fetches
    if old is None:
        return _envelope(new["kind"], new.get("user"), incoming)
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
        problem = _fetch_problem(fetch)
        if problem:
            raise ValueError(f"fetch {i}: {problem}")
        checked.append(fetch)
    return checked


def _envelope(kind: str, user: str | None, checked: list[Mapping[str, Any]]) -> dict[str, Any]:
    """An envelope of fetches already checked (``_checked`` or ``_fetch_problem``)."""
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


def _fetch_problem(fetch: Any) -> str | None:
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


# ---------------------------------------------------------------------------------------------
# Reading objects


_MSGSPEC = msgspec.json.Decoder()


def parse_object(data: bytes, key: str) -> dict[str, Any]:
    """Parse a stored object into an envelope; raise MalformedRawObject(key, precise reason).

    Accepts the envelope format, and the bare pages the original DAGs wrote: a recently-played page
    (an object with ``items``), a followed-artists page (``{"artists": {...}}``), or a list of such pages.
    """
    return parse_object_checked(data, key)[0]


# The most JSON one raw object may hold, compressed or not: a real one is far smaller (an hour of
# polls: a few MB); a bigger file under a raw key is not one of ours, and reading it whole would take
# its size in memory (a small gzip file may inflate to gigabytes: it is cut off here).
MAX_JSON_BYTES = 64 * 1024 * 1024
_GZIP_MAGIC = b"\x1f\x8b"
GZIP_LEVEL = 6  # zlib's default: 9 saves about 2 % more for twice the time


def compress(data: bytes) -> bytes:
    """gzip with no time stamp and no file name in the header: the same bytes in give the same bytes
    out (so the same ETag), whenever and wherever they are written (with the same zlib)."""
    return gzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0)


def encode_stored(envelope: Mapping[str, Any], compression: str) -> bytes:
    """The bytes a writer stores for an envelope: :func:`dump`, gzipped when ``compression`` is gzip."""
    data = dump(envelope)
    return compress(data) if compression == "gzip" else data


def stored_json(data: bytes, key: str) -> bytes:
    """The JSON bytes of a stored object: gunzipped when it is gzip data (its key ends in ``.json.gz``;
    a ``.json`` file someone gzipped is recognised by its first two bytes, which JSON never starts
    with), as it is otherwise. MalformedRawObject for damaged gzip data or more than MAX_JSON_BYTES."""
    if data[:2] != _GZIP_MAGIC:
        if is_compressed_key(key) and data:
            raise MalformedRawObject(key, "the key ends in .json.gz but the bytes are not gzip data")
        return data
    out: list[bytes] = []
    size = 0
    rest = data
    try:
        while rest[:2] == _GZIP_MAGIC:  # a gzip file may hold several members, one after another
            member = zlib.decompressobj(wbits=31)
            chunk = member.decompress(rest, MAX_JSON_BYTES + 1 - size)
            size += len(chunk)
            out.append(chunk)
            if size > MAX_JSON_BYTES:
                raise MalformedRawObject(
                    key, f"over {MAX_JSON_BYTES // 2**20} MiB of JSON once decompressed: not a raw object "
                    "this pipeline wrote; move it out of the raw zone"
                )  # fmt: skip
            if not member.eof:
                raise MalformedRawObject(key, f"truncated gzip data ({len(data)} bytes stored)")
            rest = member.unused_data
    except zlib.error as exc:
        raise MalformedRawObject(key, f"damaged gzip data ({exc})") from None
    if rest.strip(b"\x00"):
        raise MalformedRawObject(key, f"{len(rest)} bytes after the gzip data that are not gzip data")
    return b"".join(out)


def parse_object_checked(data: bytes, key: str) -> tuple[dict[str, Any], bool]:
    """``parse_object``, and whether msgspec decoded it: then every value is plain JSON (no NaN,
    no infinity, no lone surrogate), so ``msgspec.json.encode`` of a part of it is that part's
    exact identity (the transform's item cache relies on it).

    msgspec reads clean JSON 2-3x faster than ``json.loads`` and refuses everything ``json.loads``
    takes that is not strict JSON (NaN, a lone surrogate escape, 1e400, a BOM, deep nesting): those
    objects, and every broken one, take the standard library's path and get its precise reasons.

    A gzip-compressed object is decompressed first (:func:`stored_json`)."""
    data = stored_json(data, key)
    try:
        value = _MSGSPEC.decode(data)
    except (msgspec.DecodeError, ValueError, RecursionError):
        return _shape(_decode(data, key), key), False
    return _shape(value, key), True


_LAZY_TOP = msgspec.json.Decoder(dict[str, msgspec.Raw])
_LAZY_FETCHES = msgspec.json.Decoder(list[dict[str, msgspec.Raw]])
_LAZY_LIST = msgspec.json.Decoder(list[msgspec.Raw])


def parse_page_items_lazily(data: bytes, key: str) -> dict[str, Any] | None:
    """``parse_object_checked`` of a clean envelope whose responses' ``items`` stay undecoded: each
    item is a ``msgspec.Raw`` (its exact bytes), so the loader's item cache neither decodes nor
    re-encodes an item it has already seen. Every other value is decoded and checked as
    ``parse_object_checked`` does it (msgspec, strict JSON), so the envelope's checks and errors are
    its own. None when the object is not a plain envelope of decodable values (a legacy shape, a
    response that is not an object with an ``items`` list, anything msgspec refuses, ...): the caller
    reads it the exact way instead. The decoder of the items must still refuse what msgspec refuses
    (an item's bytes were not checked here)."""
    try:
        data = stored_json(data, key)
        top = _LAZY_TOP.decode(data)
        if "fetches" not in top:
            return None
        value: dict[str, Any] = {k: _MSGSPEC.decode(v) for k, v in top.items() if k != "fetches"}
        fetches: list[dict[str, Any]] = []
        for raw_fetch in _LAZY_FETCHES.decode(top["fetches"]):
            fetch: dict[str, Any] = {k: _MSGSPEC.decode(v) for k, v in raw_fetch.items() if k != "response"}
            if "response" in raw_fetch:
                response = _LAZY_TOP.decode(raw_fetch["response"])
                if "items" not in response:
                    return None
                page: dict[str, Any] = {k: _MSGSPEC.decode(v) for k, v in response.items() if k != "items"}
                page["items"] = _LAZY_LIST.decode(response["items"])
                fetch["response"] = page
            fetches.append(fetch)
        value["fetches"] = fetches
        # The same checks as the exact path; a Raw cannot be encoded, so an envelope whose fetches
        # need their canonical JSON (two with the same time) is read the exact way.
        return _shape(value, key)
    except (msgspec.DecodeError, MalformedRawObject, TypeError, ValueError, RecursionError):
        return None


def _decode(data: bytes, key: str) -> Any:
    if not data.strip():
        raise MalformedRawObject(key, "empty file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if exc.reason == "unexpected end of data":  # cut inside a multi-byte character
            raise MalformedRawObject(key, f"truncated JSON at byte {len(data)}") from None
        raise MalformedRawObject(key, f"not UTF-8 text: invalid byte at offset {exc.start}") from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        # Cut short (a crash mid-write in the original system): the parser ran out of input, either
        # between tokens or inside a string it never saw the end of. Report where the file ends.
        if not text[exc.pos :].strip() or exc.msg.startswith("Unterminated string"):
            raise MalformedRawObject(key, f"truncated JSON at byte {len(data.rstrip())}") from None
        offset = len(text[: exc.pos].encode("utf-8"))
        raise MalformedRawObject(
            key, f"invalid JSON at byte {offset} (line {exc.lineno}, column {exc.colno}): {exc.msg}"
        ) from None
    except RecursionError:
        raise MalformedRawObject(key, "JSON nested too deeply to read (over ~1000 levels)") from None
    except ValueError as exc:  # json refuses an integer of more than 4300 digits this way
        raise MalformedRawObject(key, f"invalid JSON: {exc}") from None
    return value


def _shape(value: Any, key: str) -> dict[str, Any]:
    key_kind = _kind_of_key(key)
    if isinstance(value, dict) and "fetches" in value:
        return _check_envelope(value, key, key_kind)
    if isinstance(value, list):
        legacy = _legacy_list(value, key, key_kind)
        if legacy is not None:
            return legacy
    pages = value if isinstance(value, list) else [value]
    kinds = [_page_kind(page) for page in pages]
    if None in kinds:
        raise MalformedRawObject(
            key, f"expected an object with 'fetches' or a Spotify page, got {describe(value)}"
        )
    kind = kinds[0]
    if any(k != kind for k in kinds):
        raise MalformedRawObject(key, "a list that mixes recently-played and followed-artists pages")
    assert kind is not None
    if key_kind is not None and key_kind != kind:
        raise MalformedRawObject(key, f"the key says {key_kind} but the content is a {kind} page")
    fetches = [{"fetched_at": None, "request": None, "status": None, "response": page} for page in pages]
    return new_envelope(kind, _user_of_key(key), fetches)


def _legacy_list(value: list[Any], key: str, key_kind: str | None) -> dict[str, Any] | None:
    """The original DAGs followed ``next`` and saved the concatenated ``items`` (play-history items, or
    artist objects) as one JSON list. Wrap that list into one page-shaped response, and say so in the
    fetch (``legacy_shape``) so that the exact original content stays recoverable."""
    if not value:
        if key_kind in ("recently_played", "following_artists"):
            # What the original wrote when there was nothing new: a valid, empty result.
            return _wrap_legacy(key_kind, [], key, "empty list")
        raise MalformedRawObject(
            key,
            "expected an object with 'fetches' or a Spotify page, got an empty list (and the key "
            "does not say whether it held plays or artists)",
        )
    if all(_is_play_item(v) for v in value):
        kind = "recently_played"
        shape = "list of play-history items"
    elif all(_is_artist(v) for v in value):
        kind = "following_artists"
        shape = "list of artist objects"
    else:
        return None
    if key_kind is not None and key_kind != kind:
        raise MalformedRawObject(key, f"the key says {key_kind} but the content is a {shape}")
    return _wrap_legacy(kind, value, key, shape)


def _wrap_legacy(kind: str, items: list[Any], key: str, shape: str) -> dict[str, Any]:
    page: dict[str, Any] = {"items": items} if kind == "recently_played" else {"artists": {"items": items}}
    fetch = {"fetched_at": None, "request": None, "status": None, "response": page, "legacy_shape": shape}
    return new_envelope(kind, _user_of_key(key), [fetch])


def _is_play_item(v: Any) -> bool:
    return isinstance(v, dict) and "played_at" in v and isinstance(v.get("track"), dict)


def _is_artist(v: Any) -> bool:
    return isinstance(v, dict) and v.get("type") == "artist" and "id" in v


def _check_envelope(value: dict[str, Any], key: str, key_kind: str | None) -> dict[str, Any]:
    fmt = value.get("format")
    if fmt != FORMAT:
        raise MalformedRawObject(key, f"unknown format {fmt!r}: this version reads {FORMAT!r}")
    kind = value.get("kind")
    if kind not in KINDS:
        raise MalformedRawObject(key, f"unknown kind {kind!r}: expected one of {', '.join(KINDS)}")
    if key_kind is not None and key_kind != kind:
        raise MalformedRawObject(key, f"the key says {key_kind} but the envelope says {kind}")
    user = value.get("user")
    if user is not None and not isinstance(user, str):
        raise MalformedRawObject(key, f"'user' must be a string or null, got {describe(user)}")
    fetches = value["fetches"]
    if not isinstance(fetches, list):
        raise MalformedRawObject(key, f"'fetches' must be a list, got {describe(fetches)}")
    for i, fetch in enumerate(fetches):
        problem = _fetch_problem(fetch)
        if problem:
            raise MalformedRawObject(key, f"fetch {i}: {problem}")
    return _envelope(kind, user, fetches)


def _page_kind(page: Any) -> str | None:
    if isinstance(page, dict):
        if isinstance(page.get("items"), list):
            return "recently_played"
        artists = page.get("artists")
        if isinstance(artists, dict) and isinstance(artists.get("items"), list):
            return "following_artists"
    return None


def _kind_of_key(key: str) -> str | None:
    try:
        return parse_key(key).kind
    except ValueError:
        return None


def _user_of_key(key: str) -> str | None:
    try:
        return parse_key(key).user
    except ValueError:
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


def dump(envelope: Mapping[str, Any]) -> bytes:
    """Serialize: UTF-8, compact. Key order is the envelope's own (fixed by construction) and each
    response keeps Spotify's key order, so the same envelope always gives the same bytes."""
    return json_bytes(envelope, separators=(",", ":"))


# A lone UTF-16 surrogate (U+D800..U+DFFF) is what json.loads makes of Spotify's "\ud800" escape.
_SURROGATE = re.compile("[\ud800-\udfff]")


def json_bytes(value: Any, **kwargs: Any) -> bytes:
    """JSON as UTF-8 bytes, non-ASCII kept as it is, except a lone surrogate, which UTF-8 cannot
    encode: it is written back as the ``\\udXXX`` escape Spotify sent, so the file holds exactly
    what was received and the rest of the page (the other 49 plays) is never lost over one name.
    Surrogates only ever stand inside JSON strings, where the escape means the same value."""
    text = json.dumps(value, ensure_ascii=False, **kwargs)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text).encode("utf-8")
