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
    """The rows written, by fact and key, with an undo log per open level (the transaction's, then
    one per savepoint inside it): a row is looked up in one dict whatever the nesting (profiled: the
    lookups through every level were a tenth of a year's load), and a level rolled back undoes its
    writes in reverse order, which gives back exactly what was known before it."""

    def __init__(self) -> None:
        self._known: dict[str, dict[Hashable, object]] = {}
        # Open levels, outermost first, each the (rows, key, previous value) it overwrote. Empty:
        # no transaction open.
        self._levels: list[list[tuple[dict[Hashable, object], Hashable, object]]] = []

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
        self._levels.append([])

    def commit(self) -> None:
        """The transaction committed: what it wrote is known from now on."""
        if len(self._levels) > 1:
            raise RuntimeError("WriteMemo.commit() inside an open savepoint")
        self._levels.pop()

    def rollback(self) -> None:
        """The transaction rolled back: nothing it wrote (savepoints included) is known."""
        while self._levels:
            _undo(self._levels.pop())

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """Wrap one savepoint inside the open transaction: what was recorded inside is dropped when
        the block raises (the savepoint was rolled back), else kept with the transaction's."""
        if not self._levels:
            raise RuntimeError("WriteMemo.savepoint() outside a transaction")
        self._levels.append([])
        try:
            yield
        except BaseException:
            _undo(self._levels.pop())
            raise
        inner = self._levels.pop()
        self._levels[-1].extend(inner)

    def new_keys(self, fact: str, items: Iterable[T], key: Callable[[T], Hashable]) -> list[T]:
        """The insert-only ``items`` whose key this run has not written to ``fact`` yet."""
        if not self._levels:  # outside a transaction nothing can be known to be committed
            return list(items)
        known = self._known.setdefault(fact, {})
        log = self._levels[-1]
        out: list[T] = []
        for item in items:
            k = key(item)
            if k in known:
                continue
            log.append((known, k, _MISSING))
            known[k] = _INSERTED
            out.append(item)
        return out

    def changed(
        self, fact: str, items: Iterable[T], key: Callable[[T], Hashable], value: Callable[[T], Hashable]
    ) -> list[T]:
        """The upserted ``items`` whose ``value`` differs from what this run last wrote for their key."""
        if not self._levels:
            return list(items)
        known = self._known.setdefault(fact, {})
        log = self._levels[-1]
        out: list[T] = []
        for item in items:
            k = key(item)
            previous = known.get(k, _MISSING)
            v = value(item)
            # ``is`` first: a row the item cache gave again is the very object written before.
            if previous is v or (previous is not _MISSING and previous is not _INSERTED and previous == v):
                continue
            log.append((known, k, previous))
            known[k] = v
            out.append(item)
        return out

    def __len__(self) -> int:
        """How many rows are remembered (committed), for reports and tests."""
        added = sum(1 for level in self._levels for _, _, previous in level if previous is _MISSING)
        return sum(len(rows) for rows in self._known.values()) - added


def _undo(log: list[tuple[dict[Hashable, object], Hashable, object]]) -> None:
    for rows, k, previous in reversed(log):
        if previous is _MISSING:
            del rows[k]
        else:
            rows[k] = previous
