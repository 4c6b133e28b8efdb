"""The lists a long-running reader (the dashboard) serves: computed once per warehouse state, in the
background, never while a page waits unless there is nothing to show yet.

The lists read every play of the listener (a heavy listener's ten years: a million plays, seconds
of work). They change only when plays, releases or follows are loaded, and slowly with time (a
track rests 28 days; "now" means the last 7). So per listener the cache keeps the last lists with
the moment they were computed for (``as_of``) and the warehouse state they were computed from (a
fingerprint of the load bookkeeping: the objects loaded, the imports run, the release checks made,
read in milliseconds). When the state has changed, or the lists are older than ``MAX_AGE``, the
old lists are still served while new ones are computed in the background; only a listener never
computed before waits. ``warm`` computes every listener's lists when the reader starts.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from ...redact import redact
from ...warehouse import schema as s
from .lists import Recommendation, lists_for

log = logging.getLogger(__name__)

#: Lists older than this are recomputed even when nothing was loaded (time moves the lists too).
MAX_AGE = timedelta(hours=1)
#: The longest list a reader asks for: computed once at this length, shorter ones are its head.
LONGEST = 100

Lists = dict[str, list[Recommendation]]


@dataclass(frozen=True)
class Served:
    lists: Lists
    as_of: datetime  # the moment the lists were computed for


def warehouse_state(engine: Engine, user_id: str) -> tuple[Any, ...]:
    """What changes when anything the lists read is loaded: the raw objects loaded (plays, follows,
    releases), the imports and the release checks of this listener, as counts and latest times."""
    lf, ir, rc = s.landed_files, s.import_runs, s.release_checks
    with engine.connect() as conn:
        loaded = conn.execute(
            select(func.count(), func.max(lf.c.loaded_at)).where(lf.c.user_id == user_id)
        ).one()
        imports = conn.execute(
            select(func.count(), func.max(ir.c.started_at), func.max(ir.c.finished_at)).where(
                ir.c.user_id == user_id
            )
        ).one()
        checks = conn.execute(
            select(func.count(), func.max(rc.c.last_checked_at)).where(rc.c.user_id == user_id)
        ).one()
    return (*loaded, *imports, *checks)


@dataclass
class _Entry:
    state: tuple[Any, ...]
    as_of: datetime
    future: Future[Lists]


class ListsCache:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._served: dict[str, _Entry] = {}  # the last lists computed, per listener
        self._pending: dict[str, _Entry] = {}  # the lists being computed, per listener
        self._lock = threading.RLock()
        # One listener's lists at a time: computing competes with the pages for the same CPU.
        self._computing = threading.Lock()

    def get(self, user_id: str, now: datetime, limit: int) -> Served:
        """The lists of ``user_id`` (each at most ``limit`` long) and the moment they are for."""
        state = warehouse_state(self.engine, user_id)
        with self._lock:
            entry = self._served.get(user_id)
            if entry is None:  # nothing to show yet: wait for the first lists
                entry = self._pending.get(user_id) or self._start(user_id, state, now)
            elif (entry.state != state or now - entry.as_of >= MAX_AGE) and user_id not in self._pending:
                self._start(user_id, state, now)  # served meanwhile: the lists before
        lists = entry.future.result()
        return Served({kind: items[:limit] for kind, items in lists.items()}, entry.as_of)

    def warm(self, users: list[str], now: datetime) -> None:
        """Compute every listener's lists in the background (a reader starting up)."""
        for user_id in users:
            try:
                state = warehouse_state(self.engine, user_id)
            except Exception as exc:  # the pages will say what is wrong
                log.warning("recommendations not computed ahead: %s", redact(str(exc)))
                return
            with self._lock:
                if user_id not in self._served and user_id not in self._pending:
                    self._start(user_id, state, now)

    def _start(self, user_id: str, state: tuple[Any, ...], now: datetime) -> _Entry:
        """Compute in the background (the lock held); served once done, unless it failed."""
        entry = _Entry(state, now, Future())
        self._pending[user_id] = entry

        def compute() -> None:
            with self._computing:
                if not entry.future.set_running_or_notify_cancel():
                    return
                try:
                    lists = lists_for(self.engine, user_id, now=now, limit=LONGEST)
                except BaseException as exc:  # the waiting page shows it; the next ask tries again
                    log.warning("recommendations for %s failed: %s", user_id, redact(str(exc)))
                    with self._lock:
                        self._pending.pop(user_id, None)
                    entry.future.set_exception(exc)
                    return
                with self._lock:  # served from now on, before anyone waiting wakes up
                    self._pending.pop(user_id, None)
                    self._served[user_id] = entry
                entry.future.set_result(lists)

        # A daemon thread: a reader stopping (Ctrl-C) never waits for lists nobody will see.
        threading.Thread(target=compute, name=f"recommend-{user_id}", daemon=True).start()
        return entry
