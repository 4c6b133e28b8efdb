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
without an exception (or ``commit()`` is called), so a rolled-back object's rows are written again by
the next one; rows written inside a ``savepoint()`` that raised are forgotten with it.
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
        # Open levels, outermost first: the transaction's, then one per savepoint inside it. Empty:
        # no transaction open.
        self._levels: list[dict[str, dict[Hashable, object]]] = []

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Wrap one database transaction (outside ``engine.begin()``, so its commit happens first):
        what the writers recorded inside is kept only if the block, commit included, succeeded."""
        self.begin()
        try:
            yield
        except BaseException:
            self.rollback()
            raise
        self.commit()

    def begin(self) -> None:
        """A transaction opened (``commit`` or ``rollback`` must follow)."""
        if self._levels:
            raise RuntimeError("WriteMemo transactions do not nest: use savepoint()")
        self._levels.append({})

    def commit(self) -> None:
        """The transaction committed: what it wrote is known from now on."""
        pending = self._levels.pop()
        if self._levels:
            raise RuntimeError("WriteMemo.commit() inside an open savepoint")
        for fact, rows in pending.items():
            self._done.setdefault(fact, {}).update(rows)

    def rollback(self) -> None:
        """The transaction rolled back: nothing it wrote (savepoints included) is known."""
        self._levels.clear()

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """Wrap one savepoint inside the open transaction: what was recorded inside is dropped when
        the block raises (the savepoint was rolled back), else kept with the transaction's."""
        if not self._levels:
            raise RuntimeError("WriteMemo.savepoint() outside a transaction")
        self._levels.append({})
        try:
            yield
        except BaseException:
            self._levels.pop()
            raise
        inner = self._levels.pop()
        outer = self._levels[-1]
        for fact, rows in inner.items():
            outer.setdefault(fact, {}).update(rows)

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
        if not self._levels:  # outside a transaction nothing can be known to be committed
            return list(items)
        # Innermost first: what this savepoint wrote, then the levels around it, then what committed.
        known = [level.get(fact, {}) for level in reversed(self._levels[:-1])]
        known.append(self._done.get(fact, {}))
        pending = self._levels[-1].setdefault(fact, {})
        out: list[T] = []
        for item in items:
            k = key(item)
            previous = pending.get(k, _MISSING)
            if previous is _MISSING:
                for level in known:
                    previous = level.get(k, _MISSING)
                    if previous is not _MISSING:
                        break
            if value is None:
                if previous is not _MISSING:
                    continue
                pending[k] = _INSERTED
            else:
                v = value(item)
                # ``is`` first: a row the item cache gave again is the very object written before.
                if previous is v or (
                    previous is not _MISSING and previous is not _INSERTED and previous == v
                ):
                    continue
                pending[k] = v
            out.append(item)
        return out

    def __len__(self) -> int:
        """How many rows are remembered (committed), for reports and tests."""
        return sum(len(rows) for rows in self._done.values())
