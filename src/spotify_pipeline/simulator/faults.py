"""Injectable faults: what a flaky Spotify does to a client, on demand.

    sim.faults.add(path_prefix="/v1/me/player/recently-played", kind="status", status=503, count=3)

A fault matches requests by method and path prefix and fires ``count`` times (None: until removed).
Kinds:
  status                 a 5xx burst (500/502/503/504) with Spotify's error body
  slow                   answer normally after ``delay`` seconds (through an injectable sleep)
  malformed              a 200 whose JSON body is cut in half
  drop                   the connection closes without an answer
  timeout                in-process: httpx.ReadTimeout; served: the answer never comes in time
  rate_limit             429 with ``Retry-After: retry_after`` and the recorded body
  rate_limit_no_header   429 with neither a Retry-After header nor a body (seen in the wild)
  penalty                429 with a Retry-After of hours (default 86400, as reported)
  quota                  429 with the QUOTA_EXCEEDED body (and a day-long Retry-After by default)
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass

KINDS = (
    "status",
    "slow",
    "malformed",
    "drop",
    "timeout",
    "rate_limit",
    "rate_limit_no_header",
    "penalty",
    "quota",
)
SERVER_ERROR_STATUSES = (500, 502, 503, 504)


@dataclass
class Fault:
    id: int
    kind: str
    path_prefix: str = "/"
    method: str | None = None
    status: int = 503
    count: int | None = 1  # how many more times it fires; None = until removed
    delay: float = 0.0
    retry_after: int = 1


class FaultPlan:
    """The faults to inject, in the order they were added (the first match fires)."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def add(
        self,
        *,
        kind: str,
        path_prefix: str = "/",
        method: str | None = None,
        status: int = 503,
        count: int | None = 1,
        delay: float = 0.0,
        retry_after: int | None = None,
    ) -> Fault:
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; use one of {', '.join(KINDS)}")
        if kind == "status" and status not in SERVER_ERROR_STATUSES:
            raise ValueError(f"a status fault injects 5xx bursts {SERVER_ERROR_STATUSES}, not {status}")
        if count is not None and count < 1:
            raise ValueError("count must be at least 1 (or None for 'until removed')")
        if retry_after is None:
            retry_after = 86400 if kind in ("penalty", "quota") else 1
        fault = Fault(
            id=next(self._ids),
            kind=kind,
            path_prefix=path_prefix,
            method=method.upper() if method else None,
            status=status,
            count=count,
            delay=delay,
            retry_after=retry_after,
        )
        with self._lock:
            self._faults.append(fault)
        return fault

    def remove(self, fault: Fault) -> None:
        with self._lock:
            self._faults = [f for f in self._faults if f.id != fault.id]

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def active(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def take(self, method: str, path: str) -> Fault | None:
        """The first fault matching this request, with one firing used up."""
        with self._lock:
            for fault in self._faults:
                if fault.method not in (None, method.upper()) or not path.startswith(fault.path_prefix):
                    continue
                if fault.count is not None:
                    fault.count -= 1
                    if fault.count == 0:
                        self._faults.remove(fault)
                return fault
        return None
