"""Deterministic identifiers and seeds for the simulated world.

Python's ``hash()`` of a string is salted per process, so every seed and id here comes from
BLAKE2b over the parts joined with a separator: the same inputs give the same world in every
process, on every machine.
"""

from __future__ import annotations

import hashlib
import re

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
ID_LENGTH = 22
# A Spotify id as the Web API accepts it in paths and ?ids= lists.
ID_PATTERN = re.compile(r"^[0-9A-Za-z]{22}$")


def _digest(parts: tuple[object, ...], size: int) -> bytes:
    text = "\x1f".join(str(p) for p in parts)
    return hashlib.blake2b(text.encode("utf-8"), digest_size=size).digest()


def stable_seed(*parts: object) -> int:
    """A 64-bit seed for ``random.Random`` that depends only on ``parts``."""
    return int.from_bytes(_digest(parts, 8), "big")


def stable_fraction(*parts: object) -> float:
    """A number in [0, 1) that depends only on ``parts`` (for one-off yes/no decisions)."""
    return stable_seed(*parts) / 2**64


def spotify_id(*parts: object) -> str:
    """A 22-character base62 id, like Spotify's, derived from ``parts`` (e.g. seed, kind, index).

    Spotify ids encode 128 bits; 62**22 > 2**128, so 16 digest bytes always fit in 22 digits.
    """
    n = int.from_bytes(_digest(parts, 16), "big")
    out = []
    for _ in range(ID_LENGTH):
        n, r = divmod(n, 62)
        out.append(BASE62[r])
    return "".join(reversed(out))


def hex_token(length: int, *parts: object) -> str:
    """Lowercase hex of the given length (image and preview hashes in URLs)."""
    return _digest(parts, (length + 1) // 2).hex()[:length]


def is_spotify_id(value: str) -> bool:
    return bool(ID_PATTERN.match(value))
