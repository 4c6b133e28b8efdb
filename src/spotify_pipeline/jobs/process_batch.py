"""The transaction of a batch of objects ``process`` loads, a savepoint per object, and what a
failed write means: the object's problem (it is quarantined with the reason, the batch goes on) or
the warehouse's (the batch is rolled back whole and the run stops, saying so)."""

from __future__ import annotations

import logging
import time
from typing import Any

from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, SQLAlchemyError, StatementError

from ..errors import PipelineError
from ..landing.store import RawObjectInfo
from ..transform.raw_object import ObjectRows
from ..warehouse import manifest, writes
from ..warehouse.memo import WriteMemo
from ..warehouse.upsert import RowRejected
from .process_save import save_rows
from .report import JobReport
from .runtime import Runtime

# The job's own name in the log, as before its batches had a module of their own.
log = logging.getLogger("spotify_pipeline.jobs.process")

_MAX_REASON = 2000  # characters of a reason kept in the manifest and the sidecar
# A batch's transaction commits after this many objects or seconds, whichever comes first: few
# commits (each waits for the database), and an interruption never costs more than a second's work.
BATCH_OBJECTS = 500
BATCH_SECONDS = 1.0


# An object's savepoint, as plain SQL (the same on SQLite, MySQL/MariaDB and PostgreSQL): SQLAlchemy's
# ``begin_nested`` compiles and tracks each one, which cost a tenth of a year's load (profiled).
_SAVEPOINT = "SAVEPOINT sp_object"
_RELEASE = "RELEASE SAVEPOINT sp_object"
_ROLLBACK = "ROLLBACK TO SAVEPOINT sp_object"


class Batch:
    """The open transaction of a batch of objects, the write memo of the run, and the counts of
    the objects in the batch, which join the run's report only once the batch committed."""

    def __init__(self, rt: Runtime, report: JobReport) -> None:
        self.rt = rt
        self.report = report
        self.memo = WriteMemo()  # this run's own writes, so a year of overlapping pages is not re-sent
        self.conn: Any = None
        self._trans: Any = None
        self.pending = JobReport("batch")
        self.loaded: list[dict[str, Any]] = []  # the manifest rows of the batch's loaded objects
        self._objects = 0
        self._started = 0.0
        self.current = ""  # the key of the object being loaded, named if the warehouse fails

    def open(self) -> None:
        if self.conn is not None:
            return
        conn = self.rt.engine.connect()
        try:
            self._trans = conn.begin()
        except BaseException:
            conn.close()
            raise
        self.conn = conn
        self.memo.begin()
        self.pending = JobReport("batch")
        self.loaded = []
        self._objects = 0
        self._started = time.monotonic()

    def done_one(self) -> None:
        self._objects += 1
        if self._objects >= BATCH_OBJECTS or time.monotonic() - self._started >= BATCH_SECONDS:
            self.commit()

    def commit(self) -> None:
        if self.conn is None:
            return
        try:
            # The manifest rows of the batch's loaded objects, in one statement, in its transaction.
            manifest.mark_loaded_many(self.conn, self.loaded)
            self._trans.commit()
        except SQLAlchemyError as exc:
            self.abort()
            raise _warehouse_down(self.current, exc, self.report) from None
        self.memo.commit()
        self.conn.close()
        self.conn = None
        for name, n in self.pending.counts.items():
            self.report.add(name, n)
        self.report.problems.extend(self.pending.problems)

    def abort(self) -> None:
        """Roll the open batch back (nothing of it is counted); quiet: the first error is the one told."""
        if self.conn is None:
            return
        self.memo.rollback()
        try:
            self._trans.rollback()
        except Exception:  # noqa: BLE001 - the connection may be gone: the database rolls back itself
            log.debug("rollback of the batch failed", exc_info=True)
        try:
            self.conn.close()
        except Exception:  # noqa: BLE001
            log.debug("closing the batch's connection failed", exc_info=True)
        self.conn = None


def write_object(
    rt: Runtime, batch: Batch, members: list[RawObjectInfo], kind: str, user: str, rows: ObjectRows
) -> None:
    """Write one object's rows (and its manifest rows, with the batch) in a savepoint of the batch."""
    conn, memo = batch.conn, batch.memo
    key = members[0].key
    counts = JobReport("object")  # this object's counts join the batch's only once its savepoint held
    try:
        conn.exec_driver_sql(_SAVEPOINT)
    except SQLAlchemyError as exc:
        raise _warehouse_down(key, exc, batch.report) from None
    try:
        with memo.savepoint():
            now = rt.clock.now()
            writes.ensure_user(conn, user, now, memo=memo)
            inserted = save_rows(conn, kind, rows, user, now, counts, memo)
            # Checked here (a value that does not fit quarantines this object), written with the batch.
            entries = [
                manifest.loaded_entry(
                    info.key,
                    kind=kind,
                    user_id=user,
                    etag=info.etag,
                    size=info.size,
                    rows=inserted if n == 0 else 0,
                    loaded_at=now,
                )
                for n, info in enumerate(members)
            ]
        conn.exec_driver_sql(_RELEASE)
        batch.loaded.extend(entries)
    except BaseException as exc:
        reason = _refused(exc)
        _rollback_quietly(conn)
        if reason is None:
            if isinstance(exc, SQLAlchemyError):
                raise _warehouse_down(key, exc, batch.report) from None
            raise
        for info in members:
            quarantine(rt, batch, info, kind, user, reason)
        return
    for name, n in counts.counts.items():
        batch.pending.add(name, n)
    batch.pending.problems.extend(counts.problems)
    batch.pending.add("objects_loaded")


def _refused(exc: BaseException) -> str | None:
    """Why the object is to blame for a failed write (its reason), or None when the warehouse is
    (or the run was interrupted): then the run stops."""
    if isinstance(exc, DBAPIError):
        if isinstance(exc, DataError | IntegrityError):
            # The database refused a value of this object (the transform's checks should have caught
            # it first): the object's problem, not the warehouse's. The driver's words name the column.
            return f"the warehouse refused it: {_driver_words(exc)}"
        return None
    if isinstance(exc, RowRejected):
        return f"a value does not fit the warehouse: {exc}"
    if isinstance(exc, SQLAlchemyError):
        if isinstance(exc, StatementError):
            # A value the column type's own conversion refused (before the driver saw it): this object's.
            return f"a value does not fit the warehouse: {exc.orig!r}"
        return None  # pool timeout, a connection left unusable, ...
    if isinstance(exc, PipelineError | MemoryError) or not isinstance(exc, Exception):
        return None  # KeyboardInterrupt, SystemExit, a raw zone that cannot be read: the run stops
    log.debug("unexpected failure writing an object", exc_info=True)
    return f"unexpected {type(exc).__name__}: {exc}"


def _rollback_quietly(conn: Any) -> None:
    try:
        conn.exec_driver_sql(_ROLLBACK)
        conn.exec_driver_sql(_RELEASE)
    except Exception:  # noqa: BLE001 - a connection gone: the error being raised is the one to tell
        log.debug("savepoint rollback failed", exc_info=True)


def quarantine(
    rt: Runtime,
    batch: Batch,
    info: RawObjectInfo,
    kind: str,
    user: str,
    reason: str,
    *,
    copy: bool = True,
) -> None:
    """Set one variant aside with the reason: a copy in the quarantine (unless ``copy`` is False),
    its manifest row in the batch's transaction, a problem of the run."""
    reason = _readable(reason)
    where = f"copy at {rt.store.quarantine(info.key, reason)}" if copy else "left in place"
    try:
        manifest.mark_quarantined(
            batch.conn, info.key, kind=kind, user_id=user, etag=info.etag, reason=reason, size=info.size,
            loaded_at=rt.clock.now(),
        )  # fmt: skip
    except DBAPIError as exc:
        raise _warehouse_down(info.key, exc, batch.report) from None
    batch.pending.add("objects_quarantined")
    batch.pending.problems.append(f"quarantined {info.key} ({where}): {reason}")
    log.error("quarantined %s: %s", info.key, reason)


def _warehouse_down(key: str, exc: SQLAlchemyError, report: JobReport) -> PipelineError:
    return PipelineError(
        f"the warehouse failed while loading {key} ({_driver_words(exc)}); the transaction of its batch was "
        f"rolled back and the {n_done(report)} objects before it are saved: run `spotify-pipeline process` "
        "again to load the rest"
    )


def _driver_words(exc: SQLAlchemyError) -> str:
    # The driver's own words only: str(exc) would add the SQL and its parameters.
    cause = exc.orig if isinstance(exc, DBAPIError) else exc
    return _readable(f"{type(cause).__name__}: {cause}")


def _readable(reason: str) -> str:
    """One line of valid UTF-8, bounded: a reason quotes values from the object, which may be huge
    or hold lone surrogates, and it is stored in the manifest, a sidecar and the log."""
    text = " ".join(reason.split())
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 1] + "…"


def n_done(report: JobReport) -> int:
    """The objects of the run loaded so far (in batches that committed)."""
    return report.counts.get("objects_loaded", 0)
