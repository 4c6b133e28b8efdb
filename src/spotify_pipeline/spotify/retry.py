"""Retry policy: how long to back off after a transient failure, and how to read Retry-After.

Full jitter (AWS architecture blog, "Exponential Backoff And Jitter"): the n-th retry sleeps a
uniform random time in [0, min(cap, base * 2**n)], so many workers hit by the same 5xx burst do
not come back in lockstep.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import httpx

from ..redact import redact

# A 429 without Retry-After gives us nothing to go on. Spotify warns that ignoring the limit makes
# it grow, and in 2026 bare 429s also meant "this endpoint is not for you" (spotify-api.md §4). We
# pause for an hour: long enough not to hammer, short enough that the next bihourly poll runs and
# (for a typical listener) still reaches every play inside the 50-play window.
NO_RETRY_AFTER_PAUSE = timedelta(hours=1)
# A quota answer is a budget, not a burst: never wait for it inside a run.
QUOTA_REASON = "QUOTA_EXCEEDED"


@dataclass
class BackoffPolicy:
    max_retries: int
    base_seconds: float
    cap_seconds: float = 60.0
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, retry: int) -> float:
        """Seconds to sleep before retry number ``retry`` (0-based)."""
        ceiling = min(self.cap_seconds, self.base_seconds * (2**retry))
        return self.rng.uniform(0.0, ceiling)


def retry_after_seconds(headers: httpx.Headers, now: datetime) -> float | None:
    """The Retry-After header in seconds (delta-seconds or an HTTP date), or None when absent/unreadable.

    httpx.Headers is case-insensitive, so ``retry-after`` (seen from Spotify) is found too.
    """
    value = headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        # "inf", "nan" and "1e400" parse as floats but name no time; treated as no header at all
        # (the one-hour policy). Huge finite values are capped where the pause is stored.
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, OverflowError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def is_transient_status(status: int) -> bool:
    """Server-side failures worth retrying: Spotify says 502s can be retried immediately (§4)."""
    return status >= 500


def no_answer(exc: httpx.TransportError) -> str:
    """What a lost connection or timeout says in a message (redacted, kept short)."""
    return f"no answer ({type(exc).__name__}: {redact(str(exc))[:120]})"
