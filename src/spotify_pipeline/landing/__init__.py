"""The raw zone: keys, the envelope format, and the RawStore interface with its local-folder and
S3 implementations. ``S3RawStore`` (and boto3 with it) is imported only when asked for."""

from __future__ import annotations

from typing import Any

from .decode import dump, parse_object
from .envelope import FORMAT, make_fetch, merge_envelopes, new_envelope
from .keys import (
    KINDS,
    QUARANTINE_PREFIX,
    RawKey,
    is_legacy_key,
    is_raw_key,
    logical_key,
    parse_key,
    raw_key,
    stored_key,
)
from .local import LocalRawStore
from .store import RawObjectInfo, RawStore, open_store

__all__ = [
    "FORMAT",
    "KINDS",
    "QUARANTINE_PREFIX",
    "LocalRawStore",
    "RawKey",
    "RawObjectInfo",
    "RawStore",
    "S3RawStore",
    "dump",
    "is_legacy_key",
    "is_raw_key",
    "logical_key",
    "make_fetch",
    "merge_envelopes",
    "new_envelope",
    "open_store",
    "parse_key",
    "parse_object",
    "raw_key",
    "stored_key",
]


def __getattr__(name: str) -> Any:
    if name == "S3RawStore":
        from .s3 import S3RawStore  # deferred: boto3 is the optional s3 extra

        return S3RawStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
