"""Raw-zone key layout.

We write ``recently_played/YYYYMMDDHH.json`` and ``following_artists/YYYYMMDDHH.json`` (UTC hour), the
layout the original system documents; when several listeners share one store, each gets a partition:
``users/<user>/<kind>/YYYYMMDDHH.json``.

The original DAGs' code actually wrote ``recently_played/recently_played_YYYYMMDDHH.json`` and
``following_atrists/following_atrists_YYYYMMDDHH.json`` (sic), stamped with the server's local hour.
Those names are recognised too, so a copied-over bucket loads as it is; their hour is only a label
(every play carries its own ``played_at``), and we never write under those names.

Export files an import archived live under ``imports/<user>/<sha256 of the file>/<file name>``
(content-addressed: the same file imported twice is stored once). They are the input of ``rebuild``,
not raw objects: ``parse_key`` refuses them, so ``process`` passes them by.

Compression: an object may be stored gzip-compressed; its key then ends in ``.json.gz`` instead of
``.json`` (the suffix is the one marking, the same on a local folder and on S3). Both name the same
*logical* object, the ``.json`` key (:func:`logical_key`); readers take both, and where an hour has
both, their union (``landing/variants.py``). Writers write the variant the ``raw_compression`` setting
names. Legacy names are recognised with either suffix.

Anything else (``_quarantine/``, sidecars, temp files, foreign files) is not a raw object.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import lru_cache
from typing import NamedTuple

KINDS = ("recently_played", "following_artists", "metadata", "artist_albums")
QUARANTINE_PREFIX = "_quarantine/"
GZIP_SUFFIX = ".gz"  # a compressed object's key is its logical key plus this
COMPRESSIONS = ("gzip", "none")
USERS_PREFIX = "users/"
IMPORTS_PREFIX = "imports/"
_SHA256_RE = re.compile(r"[0-9a-f]{64}")

# A user name becomes one path segment: no slash, no leading dot (so no '..' or hidden names),
# nothing a shell or S3 console would mangle.
_USER_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_KEY_RE = re.compile(
    r"(?:users/(?P<user>[^/]+)/)?(?P<kind>" + "|".join(KINDS) + r")/(?P<stamp>\d{10})\.json(?:\.gz)?"
)


# The original DAGs' file names: <dir>/<dir>_YYYYMMDDHH.json, "atrists" as they spelled it.
_LEGACY_DIRS = {
    "recently_played": "recently_played",
    "following_atrists": "following_artists",
    "following_artists": "following_artists",
}
_LEGACY_RE = re.compile(r"(?P<dir>" + "|".join(_LEGACY_DIRS) + r")/(?P=dir)_(?P<stamp>\d{10})\.json(?:\.gz)?")


class RawKey(NamedTuple):
    kind: str
    hour: datetime
    user: str | None


def check_user(user: str) -> str:
    """Return ``user`` if it is safe as one key segment, else raise ValueError naming it."""
    if not _USER_RE.fullmatch(user):
        raise ValueError(
            f"user name {user!r} cannot be a raw-zone partition: use 1-64 letters, digits, '.', '_' "
            "or '-', starting with a letter or digit"
        )
    return user


def raw_key(kind: str, hour: datetime, user: str | None = None) -> str:
    """The key of the raw object for ``kind`` in the UTC hour holding ``hour`` (aware datetime)."""
    if kind not in KINDS:
        raise ValueError(f"unknown raw object kind {kind!r}: expected one of {', '.join(KINDS)}")
    if hour.tzinfo is None or hour.utcoffset() is None:
        raise ValueError(f"raw_key needs a timezone-aware datetime, got naive {hour.isoformat()}")
    utc = hour.astimezone(UTC)
    # Not strftime: "%Y" of the year 1 is "1" on glibc, a key that parse_key would never read.
    stamp = f"{utc.year:04d}{utc.month:02d}{utc.day:02d}{utc.hour:02d}"
    base = f"{kind}/{stamp}.json"
    if user is None:
        return base
    return f"{USERS_PREFIX}{check_user(user)}/{base}"


def import_key(user: str, sha256: str, file_name: str) -> str:
    """The key of an archived export file: ``imports/<user>/<sha256>/<base name of file_name>``.

    ``file_name`` may be a path or a zip member path; only its last segment is kept (a leading dot
    is dropped, so the copy is never a hidden file the local store would not list)."""
    if not _SHA256_RE.fullmatch(sha256):
        raise ValueError(f"{sha256!r} is not a lowercase sha256 hex digest")
    base = re.split(r"[/\\]", file_name)[-1].lstrip(".")
    base = "".join(c if c.isprintable() else "_" for c in base) or "export.json"
    return f"{IMPORTS_PREFIX}{check_user(user)}/{sha256}/{base}"


def parse_key(key: str) -> RawKey:
    """Inverse of :func:`raw_key`. Raises ValueError for keys that are not raw objects."""
    match = _KEY_RE.fullmatch(key)
    if match is None:
        legacy = _LEGACY_RE.fullmatch(key)
        if legacy is not None:
            return RawKey(_LEGACY_DIRS[legacy.group("dir")], _hour(key, legacy.group("stamp")), None)
        raise ValueError(
            f"{key!r} is not a raw object key: expected <kind>/YYYYMMDDHH.json or "
            "users/<user>/<kind>/YYYYMMDDHH.json (either may end in .json.gz)"
        )
    user = match.group("user")
    if user is not None:
        try:
            check_user(user)
        except ValueError as exc:
            raise ValueError(f"{key!r} is not a raw object key: {exc}") from None
    return RawKey(match.group("kind"), _hour(key, match.group("stamp")), user)


def is_legacy_key(key: str) -> bool:
    """True for the original DAGs' file names (``recently_played/recently_played_YYYYMMDDHH.json``)."""
    match = _LEGACY_RE.fullmatch(key)
    if match is None:
        return False
    try:
        _hour(key, match.group("stamp"))
    except ValueError:
        return False
    return True


@lru_cache(maxsize=8192)
def _hour(key: str, stamp: str) -> datetime:
    # Cached: ``process`` parses each key several times, and strptime was 4 % of a year's load
    # (profiled). A datetime is immutable; a stamp that is no hour raises, which is never cached.
    try:
        return datetime.strptime(stamp, "%Y%m%d%H").replace(tzinfo=UTC)
    except ValueError:
        raise ValueError(f"{key!r} is not a raw object key: {stamp} is not a valid hour") from None


def is_compressed_key(key: str) -> bool:
    """True for a key that names a gzip-compressed object (``... .json.gz``)."""
    return key.endswith(".json" + GZIP_SUFFIX)


def logical_key(key: str) -> str:
    """The object a stored key holds: ``recently_played/2026112910.json`` for it and for its
    compressed variant ``recently_played/2026112910.json.gz``."""
    return key[: -len(GZIP_SUFFIX)] if is_compressed_key(key) else key


def stored_key(key: str, compression: str) -> str:
    """The key a writer with this ``raw_compression`` writes the logical object ``key`` at."""
    if compression not in COMPRESSIONS:
        raise ValueError(
            f"unknown raw_compression {compression!r}: expected one of {', '.join(COMPRESSIONS)}"
        )
    base = logical_key(key)
    return base + GZIP_SUFFIX if compression == "gzip" else base


def variant_keys(key: str) -> tuple[str, str]:
    """Both keys a logical object may be stored at: (compressed, uncompressed)."""
    base = logical_key(key)
    return base + GZIP_SUFFIX, base


def is_raw_key(key: str) -> bool:
    try:
        parse_key(key)
    except ValueError:
        return False
    return True
