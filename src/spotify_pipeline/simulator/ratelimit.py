"""Spotify's rate limit: a budget of calls per app over a rolling 30-second window.

"Spotify's API rate limit is calculated based on the number of calls that your app makes to
Spotify in a rolling 30 second window" (developer docs, rate limits). The budget is unpublished, so
it is a setting. Time comes from the simulator's clock, so tests drive it with a ManualClock.
Answered 429s do not count against the window: the simulator stays predictable for tests, and a
client that waits the Retry-After it was given always gets through.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from datetime import datetime, timedelta

WINDOW = timedelta(seconds=30)


class RollingWindowLimiter:
    def __init__(self, budget: int, window: timedelta = WINDOW) -> None:
        self.budget = budget
        self.window = window
        self._hits: dict[str, deque[datetime]] = {}
        self._lock = threading.Lock()

    def admit(self, key: str, now: datetime) -> int | None:
        """Count a call for ``key`` and return None, or return the Retry-After in whole seconds."""
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) < self.budget:
                hits.append(now)
                return None
            # The oldest call leaves the window at hits[0] + window; Spotify sends whole seconds.
            wait = (hits[0] + self.window - now).total_seconds()
            return max(1, math.ceil(wait))

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()
