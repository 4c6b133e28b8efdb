"""The raw-zone interface and the factory that picks an implementation from the settings."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NamedTuple, Protocol

from ..errors import ConfigError, MalformedRawObject, StoreError
from .decode import json_bytes, parse_object
from .envelope import merge_envelopes
from .keys import QUARANTINE_PREFIX, variant_keys

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from ..clock import Clock
    from ..settings import Settings


class RawObjectInfo(NamedTuple):
    key: str
    size: int
    etag: str  # changes whenever the content changes: sha256 hex locally, the S3 ETag on S3


class RawStore(Protocol):
    location: str  # for messages: "/abs/data/raw" or "s3://bucket/prefix", never credentials
    compression: str  # "gzip" or "none": the variant ``merge`` writes (keys/``stored_key``)

    def get(self, key: str) -> bytes | None:
        """The object's bytes, or None when there is no such object."""
        ...

    def open(self, key: str) -> IO[bytes] | None:
        """The object as a binary stream to read in chunks (large archived exports), or None."""
        ...

    def list(self, prefix: str = "", accept: Callable[[str], bool] | None = None) -> Iterator[RawObjectInfo]:
        """Objects whose key starts with ``prefix``, sorted by key; no temp files, nothing quarantined.

        ``accept(key)`` filters keys before anything else is done for them (a local store hashes each
        file it lists for the etag: a stray file that is no raw object is then never read)."""
        ...

    def merge(
        self, key: str, envelope: dict[str, Any], on_set_aside: Callable[[str], None] | None = None
    ) -> RawObjectInfo:
        """Atomically make the object ``merge_envelopes(old, envelope)``; never drops a fetch it held.

        ``key`` names the logical object (either variant); the object written is the variant the
        store's ``compression`` names, holding the other variant's fetches too (which stays as it
        is). Returns that object's info, its stored key included (the other variant's, when nothing
        was new and the other variant already held it all).

        An object that cannot be read is moved under ``_quarantine/`` (its bytes kept, a reason
        beside them) and the new fetch lands in a new object: one damaged file must not stop every
        later fetch of its hour. ``on_set_aside`` receives the one-line notice for the user."""
        ...

    def delete(self, key: str) -> None:
        """Remove the object (no error when it is already gone). Only for bookkeeping notes."""
        ...

    def quarantine(self, key: str, reason: str) -> str:
        """Copy the object to ``_quarantine/<key>`` with a reason sidecar; the original stays."""
        ...

    def put_bytes(self, key: str, data: bytes) -> RawObjectInfo:
        """Write ``data`` at ``key`` once, atomically, and never overwrite it (archived export files).

        The same key with the same bytes is a no-op; with other bytes, a StoreError naming the key."""
        ...

    def put_file(self, key: str, src: IO[bytes]) -> RawObjectInfo:
        """``put_bytes`` from a seekable binary stream, read in chunks: never the whole file in memory."""
        ...


def open_store(settings: Settings, clock: Clock | None = None) -> RawStore:
    """A LocalRawStore for a folder, an S3RawStore for ``s3://bucket/prefix`` (boto3 loaded only then)."""
    if settings.is_s3:
        try:
            from .s3 import S3RawStore  # deferred: boto3 is the optional s3 extra
        except ImportError as exc:
            raise ConfigError(
                f"raw_zone (env SPOTIFY_PIPELINE_RAW_ZONE) is {settings.raw_zone!r} but boto3 cannot be "
                f"imported ({exc.name or exc}): pip install 'spotify-pipeline[s3]'"
            ) from None

        bucket, prefix = settings.s3_bucket_prefix
        return S3RawStore(
            bucket,
            prefix,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            clock=clock,
            compression=settings.raw_compression,
        )
    from .local import LocalRawStore  # deferred: local.py builds on this module's RawStore

    return LocalRawStore(Path(settings.raw_zone), clock=clock, compression=settings.raw_compression)


def stream_digests(src: IO[bytes], chunk: int = 1 << 20) -> tuple[int, str, str]:
    """(size, sha256 hex, md5 hex) of a seekable stream read from its start in chunks; rewound after."""
    sha, md5, size = hashlib.sha256(), hashlib.md5(usedforsecurity=False), 0
    src.seek(0)
    while data := src.read(chunk):
        sha.update(data)
        md5.update(data)
        size += len(data)
    src.seek(0)
    return size, sha.hexdigest(), md5.hexdigest()


def with_other_variant(
    old: dict[str, Any] | None, other_bytes: bytes | None, other_key: str
) -> dict[str, Any] | None:
    """``old`` (the envelope at the key a merge writes) with the fetches of the hour's other variant
    (``.json`` beside ``.json.gz``) added. An unreadable other variant is left as it is, not merged
    (``process`` quarantines it); it is never changed or removed by a merge."""
    if other_bytes is None:
        return old

    try:
        held = parse_object(other_bytes, other_key)
        return merge_envelopes(old, held) if old is not None else held
    except (MalformedRawObject, ValueError) as exc:
        log.warning("%s could not be read (%s): left as it is, not merged", other_key, exc)
        return old


def read_logical(store: RawStore, key: str) -> dict[str, Any] | None:
    """The object ``key`` names (either variant's key) as one envelope: the union of the fetches of
    its stored variants (``X.json.gz`` and ``X.json``); None when neither exists. Raises
    MalformedRawObject for a variant that cannot be read."""

    found: dict[str, Any] | None = None
    for variant in variant_keys(key):
        data = store.get(variant)
        if data is not None:
            held = parse_object(data, variant)
            found = held if found is None else merge_envelopes(found, held)
    return found


def check_key(key: str) -> str:
    """Keys are relative POSIX paths without '.', '..' or empty segments: safe as file and S3 names."""
    parts = key.split("/")
    if not key or key.startswith("/") or "\\" in key or any(p in ("", ".", "..") for p in parts):
        raise ValueError(
            f"{key!r} is not a valid raw-zone key: use a relative path like recently_played/2026112910.json"
        )
    return key


def already_there(location: str, key: str) -> StoreError:
    """The error for a write-once key that holds other bytes (``put_bytes``)."""
    return StoreError(
        f"{key} already exists in {location} with other content; an archived file is never overwritten: "
        "check what wrote it, or move it aside if it is damaged, and run again"
    )


def quarantine_key(key: str) -> str:
    return QUARANTINE_PREFIX + key


def reason_sidecar_key(key: str) -> str:
    return sidecar_of(quarantine_key(key))


def sidecar_of(qkey: str) -> str:
    return qkey + ".reason.json"


def set_aside_key(key: str, etag: str, taken: bool) -> str:
    """Where an unreadable object is moved: ``_quarantine/<key>``, or, when that place already holds
    other bytes (an earlier damaged version), ``_quarantine/<key>.<etag>``, so nothing is overwritten."""
    if not taken:
        return quarantine_key(key)
    for ext in (".json.gz", ".json"):  # X.<etag>.json.gz: the name still says what the bytes are
        if key.endswith(ext):
            return quarantine_key(f"{key[: -len(ext)]}.{etag[:16]}{ext}")
    stem, dot, ext = key.rpartition(".")
    return quarantine_key(f"{stem}.{etag[:16]}.{ext}" if dot else f"{key}.{etag[:16]}")


def set_aside_notice(key: str, qkey: str, reason: str) -> str:
    return (
        f"{key} could not be read ({reason}): moved it to {qkey} (bytes kept, the reason beside it) "
        f"and landed this fetch in a new {key}; look at the quarantined copy to recover anything in it"
    )


def reason_note(key: str, reason: str, etag: str, quarantined_at: datetime, *, moved: bool = False) -> bytes:
    """The sidecar a person reads next to a quarantined copy: which object, why, and which version."""
    note = {
        "key": key,
        "reason": reason,
        "etag": etag,
        "quarantined_at": quarantined_at.isoformat(),
        "note": (
            "moved here: a fetch found it unreadable and landed its plays in a new object at the key"
            if moved
            else "a copy; the original stays in the raw zone. Fix or remove it, then run `process` again."
        ),
    }

    return json_bytes(note, indent=2)
