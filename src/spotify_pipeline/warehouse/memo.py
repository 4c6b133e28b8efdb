"""What one job run has already written, so that it does not send the same rows again.

A year of hourly recently-played objects repeats each play in about six objects (every poll
returns the latest 50) and each track, album and artist in hundreds; loading object by object
re-sent all of them, which made the reload of a year slower than its first load. A ``WriteMemo``
lets the writers in ``writes`` drop, before any SQL, the rows this run already wrote with the same
values in a transaction that committed.

Why skipping is exact, table by table:

* insert-only rows (users, plays, simplified artists and albums: ``INSERT IGNORE`` / ``ON CONFLICT
  DO NOTHING``): once this run committed a row with that key the statement is a no-op, so a key
  already written is skipped whatever its other values (``new_keys``);
* upserted rows (tracks, full artists and albums, credits): writing exactly the values this run
  last wrote for that key (every column the upsert sets) changes nothing, ``COALESCE`` columns
  included, so only a row whose values differ from the last ones is sent (``changed``).

Every writer of a memoized table in the run must be given the memo, or the "last values" would be
stale; another process writing the same rows meanwhile is not undone by a skipped re-write (a
full object it stored stays, which is the direction the catalog promises). One memo per run,
never shared or kept: rows written inside a transaction count only once ``transaction()`` exits
without an exception, so a rolled-back object's rows are written again by the next one.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")

_INSERTED = object()  # the value recorded for an insert-only row: equal to no upsert's values
_MISSING = object()


class WriteMemo:
    def __init__(self) -> None:
        self._done: dict[str, dict[Hashable, object]] = {}
        self._pending: dict[str, dict[Hashable, object]] | None = None  # None: no transaction open

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Wrap one database transaction (outside ``engine.begin()``, so its commit happens first):
        what the writers recorded inside is kept only if the block, commit included, succeeded."""
        if self._pending is not None:
            raise RuntimeError("WriteMemo.transaction() does not nest")
        self._pending = {}
        try:
            yield
        except BaseException:
            self._pending = None
            raise
        pending, self._pending = self._pending, None
        for fact, rows in pending.items():
            self._done.setdefault(fact, {}).update(rows)

    def new_keys(self, fact: str, items: Iterable[T], key: Callable[[T], Hashable]) -> list[T]:
        """The insert-only ``items`` whose key this run has not written to ``fact`` yet."""
        return self._filter(fact, items, key, None)

    def changed(
        self, fact: str, items: Iterable[T], key: Callable[[T], Hashable], value: Callable[[T], Hashable]
    ) -> list[T]:
        """The upserted ``items`` whose ``value`` differs from what this run last wrote for their key."""
        return self._filter(fact, items, key, value)

    def _filter(
        self,
        fact: str,
        items: Iterable[T],
        key: Callable[[T], Hashable],
        value: Callable[[T], Hashable] | None,
    ) -> list[T]:
        if self._pending is None:  # outside a transaction nothing can be known to be committed
            return list(items)
        done = self._done.get(fact, {})
        pending = self._pending.setdefault(fact, {})
        out: list[T] = []
        for item in items:
            k = key(item)
            previous = pending.get(k, _MISSING)
            if previous is _MISSING:
                previous = done.get(k, _MISSING)
            if value is None:
                if previous is not _MISSING:
                    continue
                pending[k] = _INSERTED
            else:
                v = value(item)
                if previous is not _MISSING and previous is not _INSERTED and previous == v:
                    continue
                pending[k] = v
            out.append(item)
        return out

    def __len__(self) -> int:
        """How many rows are remembered (committed), for reports and tests."""
        return sum(len(rows) for rows in self._done.values())
