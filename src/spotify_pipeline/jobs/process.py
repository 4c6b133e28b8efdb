"""Load landed raw objects into the warehouse: catch-up by manifest, a savepoint per object.

An object is loaded when the manifest (``landed_files``) does not list it with the same content
hash: new objects, objects that a later fetch merged into, and objects edited by hand all load,
and since a play's identity is (user, played_at) a reload never counts anything twice. Nothing
depends on "today and yesterday" by wall clock.

The hour's two variants (``X.json`` and ``X.json.gz``, when ``raw_compression`` changed while the
hour was being written) are one object: read together, their fetches' union loaded once (a fetch in
both is one poll), each variant recorded in the manifest under its own key and etag.

Objects load in batches: one transaction for up to ``BATCH_OBJECTS`` objects or ``BATCH_SECONDS``,
with a savepoint per object. One bad object never blocks the rest: whatever goes wrong while reading,
transforming or writing one object (a malformed page, a value no column can hold, a value the
database refuses, a bug) is that object's problem: its savepoint is rolled back, it is quarantined
with the reason and the next one loads. Only a warehouse that is down (connection lost, disk gone)
or a raw zone that cannot be read stops the run, since every later object would fail the same way;
the batch it happened in is rolled back whole and the next run loads it again.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, SQLAlchemyError, StatementError

from ..clock import Clock
from ..errors import MalformedRawObject, PipelineError
from ..landing.decode import MAX_JSON_BYTES, parse_object_checked, parse_page_items_lazily
from ..landing.envelope import merge_envelopes
from ..landing.keys import USERS_PREFIX, logical_key, parse_key
from ..landing.store import RawObjectInfo
from ..settings import Settings
from ..transform.raw_object import Lookup, ObjectRows, object_rows
from ..transform.recently_played import ItemCache, UndecodedItem
from ..transform.rows import AlbumRow, ArtistRow, AudioFeaturesRow
from ..warehouse import manifest, rollups, writes
from ..warehouse.memo import WriteMemo
from ..warehouse.releases import save_release_checks
from ..warehouse.upsert import RowRejected
from .bookkeeping import catch_up
from .progress import ProgressFn, no_progress
from .report import JobReport
from .runtime import Runtime

log = logging.getLogger(__name__)

KINDS = ("recently_played", "following_artists", "metadata", "artist_albums")
# The largest object process reads, as stored (and, compressed, once decompressed: MAX_JSON_BYTES).
MAX_OBJECT_BYTES = MAX_JSON_BYTES
_MAX_REASON = 2000  # characters of a reason kept in the manifest and the sidecar
# A batch's transaction commits after this many objects or seconds, whichever comes first: few
# commits (each waits for the database), and an interruption never costs more than a second's work.
BATCH_OBJECTS = 500
BATCH_SECONDS = 1.0


def process(
    settings: Settings,
    *,
    clock: Clock | None = None,
    runtime: Runtime | None = None,
    progress: ProgressFn | None = None,
    partition: str | None = None,
    reload_between: tuple[datetime, datetime] | None = None,
) -> JobReport:
    """``partition``: None loads the whole store; ``users/<name>/`` one listener's partition; ``""``
    the objects outside every partition. ``reload_between``: objects whose hour lies in [start, end)
    load again even when the manifest lists them (an Airflow backfill reprocesses its interval)."""
    with _few_collections():
        return _process(settings, clock, runtime, progress, partition, reload_between)


@contextmanager
def _few_collections() -> Iterator[None]:
    """Python's cycle collector runs every 700 new containers, and a decoded page is thousands of
    them, all alive: it took a tenth of the load's CPU (measured) finding nothing, since decoded JSON
    holds no cycle (reference counting frees it). It runs every 100,000 while loading."""
    held = gc.get_threshold()
    gc.set_threshold(max(held[0], 100_000), *held[1:])
    try:
        yield
    finally:
        gc.set_threshold(*held)


def _process(
    settings: Settings,
    clock: Clock | None,
    runtime: Runtime | None,
    progress: ProgressFn | None,
    partition: str | None,
    reload_between: tuple[datetime, datetime] | None,
) -> JobReport:
    rt = Runtime.resolve(settings, runtime, clock=clock)
    started = rt.clock.now()  # every play this run inserts is loaded at or after it
    report = JobReport("process")
    progress = progress or no_progress

    catch_up(rt, report)  # fetches landed while the warehouse was down: gap checks before their plays load

    current: str | None = None
    batch = _Batch(rt, report)
    try:
        # The manifest in one query, not one per object: an object another run loads meanwhile is at
        # worst loaded twice, which adds nothing (a play's identity is its key).
        with rt.engine.connect() as conn:
            seen = {key: (e["etag"], e["status"]) for key, e in manifest.manifest_entries(conn).items()}
        # Keys are filtered before the store looks at a file's content: a stray file is never read.
        listed = [
            info
            for info in rt.store.list(partition or "", accept=_is_ours)
            if not (partition == "" and info.key.startswith(USERS_PREFIX))
        ]
        todo = [
            group
            for group in _groups(listed)
            if any(seen.get(i.key, (None,))[0] != i.etag for i in group)
            or _within(group[0].key, reload_between)
        ]
        cache = ItemCache()  # this run's transformed items, so a play listed in six pages is read once
        progress(0, len(todo), "loading raw objects")
        for done, group in enumerate(todo, start=1):
            current = group[0].key
            # A variant already quarantined at this etag is not read again with its changed sibling.
            members = [i for i in group if seen.get(i.key) != (i.etag, "quarantined")] or group
            batch.open()
            _process_one(rt, settings, members, batch, cache)
            batch.done_one()
            progress(done, len(todo), "loading raw objects")
        batch.commit()
    except KeyboardInterrupt:
        batch.abort()
        if current is None:
            raise PipelineError("process interrupted (Ctrl-C) before it loaded anything") from None
        raise PipelineError(
            f"process interrupted (Ctrl-C) while loading {current}: the transaction of its batch was rolled "
            f"back and the {_n_done(report)} objects before it are saved; run `spotify-pipeline process` "
            "again to load the rest"
        ) from None
    except BaseException:
        batch.abort()
        raise
    rollups.after_process(rt.engine, started, report.counts.get("plays_inserted", 0))
    if report.problems:
        report.status = "partial"
    n = report.counts.get("objects_loaded", 0)
    report.message = f"loaded {n} objects, {report.counts.get('plays_inserted', 0)} new plays"
    return report


def _groups(listed: list[RawObjectInfo]) -> list[list[RawObjectInfo]]:
    """The listed objects by logical key (an hour's ``.json`` and ``.json.gz`` together), in key order."""
    by_key: dict[str, list[RawObjectInfo]] = {}
    for info in listed:
        by_key.setdefault(logical_key(info.key), []).append(info)
    return [sorted(by_key[k]) for k in sorted(by_key)]


class _Batch:
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
        self._current = ""

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
            raise _warehouse_down(self._current, exc, self.report) from None
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


def _within(key: str, between: tuple[datetime, datetime] | None) -> bool:
    return between is not None and between[0] <= parse_key(key).hour < between[1]


def _is_ours(key: str) -> bool:
    try:
        return parse_key(key).kind in KINDS
    except ValueError:
        return False  # not a raw object of ours (README, quarantine sidecars, a stray file, ...)


def _process_one(
    rt: Runtime,
    settings: Settings,
    members: list[RawObjectInfo],
    batch: _Batch,
    cache: ItemCache | None = None,
) -> None:
    """Load one object (one or both variants of an hour) in a savepoint of the batch's transaction."""
    kind, _hour, key_user = parse_key(members[0].key)
    user = key_user or settings.user
    batch._current = members[0].key
    # A recently-played hour with one variant is read with its items undecoded (the item cache
    # decodes only the items it has not seen); one with an item msgspec refuses is read again exactly.
    lazy = cache is not None and kind == "recently_played" and len(members) == 1
    read = _read_members(rt, members, kind, user, batch, lazy=lazy)
    if read is None:
        return
    good, envelope, clean = read
    try:
        try:
            rows = object_rows(kind, envelope, user, good[0].key, rt.clock.now(), cache if clean else None)
        except UndecodedItem:
            read = _read_members(rt, members, kind, user, batch)
            if read is None:
                return
            good, envelope, clean = read
            rows = object_rows(kind, envelope, user, good[0].key, rt.clock.now(), cache if clean else None)
    except MalformedRawObject as exc:
        for info in good:
            _quarantine(rt, batch, info, kind, user, exc.reason)
        return
    except (RecursionError, ValueError) as exc:
        for info in good:
            _quarantine(rt, batch, info, kind, user, f"invalid JSON: {exc}")
        return
    except (PipelineError, MemoryError):
        raise
    except Exception as exc:  # noqa: BLE001 - the safety net: one object's surprise never blocks the rest
        log.debug("unexpected failure reading %s", good[0].key, exc_info=True)
        for info in good:
            _quarantine(rt, batch, info, kind, user, f"unexpected {type(exc).__name__}: {exc}")
        return
    _write(rt, batch, good, kind, user, rows)


def _read_members(
    rt: Runtime, members: list[RawObjectInfo], kind: str, user: str, batch: _Batch, *, lazy: bool = False
) -> tuple[list[RawObjectInfo], dict[str, Any], bool] | None:
    """The readable variants, their envelopes' union and whether msgspec decoded all of them; each
    unreadable variant quarantined on its own. None when none is left. ``lazy`` (one variant only):
    its pages' items as ``msgspec.Raw`` when it is a clean envelope (``parse_page_items_lazily``)."""
    good: list[RawObjectInfo] = []
    envelope: dict[str, Any] | None = None
    clean = True
    for info in members:
        try:
            if info.size > MAX_OBJECT_BYTES:
                # Not read, and not copied to the quarantine either (that would read it): left in place.
                reason = (
                    f"the file is {info.size / 2**20:,.0f} MiB, over the {MAX_OBJECT_BYTES // 2**20} MiB a "
                    "raw object may be; it is not a raw object this pipeline wrote: move it out of the raw zone"
                )
                _quarantine(rt, batch, info, kind, user, reason, copy=False)
                continue
            data = rt.store.get(info.key)
            if data is None:  # deleted between list and get
                continue
            lazily = parse_page_items_lazily(data, info.key) if lazy else None
            parsed, decoded = (lazily, True) if lazily is not None else read_envelope(data, info.key)
            envelope = parsed if envelope is None else merge_envelopes(envelope, parsed)
        except MalformedRawObject as exc:
            _quarantine(rt, batch, info, kind, user, exc.reason)
            continue
        except ValueError as exc:  # the two variants name different users: the later one is set aside
            _quarantine(rt, batch, info, kind, user, f"cannot be read with {good[0].key}: {exc}")
            continue
        except (PipelineError, MemoryError):
            raise  # the raw zone cannot be read (StoreError), ...: every later object would fail too
        except Exception as exc:  # noqa: BLE001 - the safety net
            log.debug("unexpected failure reading %s", info.key, exc_info=True)
            _quarantine(rt, batch, info, kind, user, f"unexpected {type(exc).__name__}: {exc}")
            continue
        good.append(info)
        clean = clean and decoded
    if envelope is None:
        return None
    return good, envelope, clean


def read_envelope(data: bytes, key: str) -> tuple[dict[str, Any], bool]:
    """``parse_object_checked`` raising only MalformedRawObject, whatever the bytes."""
    try:
        return parse_object_checked(data, key)
    # parse_object turns json's own RecursionError and ValueError (an integer of over 4300 digits)
    # into MalformedRawObject; these catch the same from its later steps (it re-encodes fetches).
    except RecursionError:
        raise MalformedRawObject(key, "JSON nested too deeply to read (over ~1000 levels)") from None
    except ValueError as exc:
        raise MalformedRawObject(key, f"invalid JSON: {exc}") from None


def read_object(
    data: bytes, key: str, kind: str, user: str, now: datetime, cache: ItemCache | None = None
) -> ObjectRows:
    """The rows of a raw object's bytes; raises only MalformedRawObject, whatever the bytes.
    ``cache`` (one per run) is used only for an object msgspec decoded, where it is exact; with it a
    recently-played object is read with its items undecoded, as ``process`` reads one variant."""
    if cache is not None and kind == "recently_played":
        lazily = parse_page_items_lazily(data, key)
        if lazily is not None:
            try:
                return object_rows(kind, lazily, user, key, now, cache)
            except UndecodedItem:
                pass  # read exactly below: its error, or its rows without the cache
    envelope, clean = read_envelope(data, key)
    return object_rows(kind, envelope, user, key, now, cache if clean else None)


def _write(
    rt: Runtime, batch: _Batch, members: list[RawObjectInfo], kind: str, user: str, rows: ObjectRows
) -> None:
    conn, memo = batch.conn, batch.memo
    key = members[0].key
    counts = JobReport("object")  # this object's counts join the batch's only once its savepoint held
    try:
        savepoint = conn.begin_nested()
    except SQLAlchemyError as exc:
        raise _warehouse_down(key, exc, batch.report) from None
    try:
        with memo.savepoint():
            now = rt.clock.now()
            writes.ensure_user(conn, user, now, memo=memo)
            inserted = _save(conn, kind, rows, user, now, counts, memo)
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
        savepoint.commit()
        batch.loaded.extend(entries)
    except BaseException as exc:
        reason = _refused(exc)
        _rollback_quietly(savepoint)
        if reason is None:
            if isinstance(exc, SQLAlchemyError):
                raise _warehouse_down(key, exc, batch.report) from None
            raise
        for info in members:
            _quarantine(rt, batch, info, kind, user, reason)
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


def _rollback_quietly(savepoint: Any) -> None:
    try:
        savepoint.rollback()
    except Exception:  # noqa: BLE001 - a connection gone: the error being raised is the one to tell
        log.debug("savepoint rollback failed", exc_info=True)


def _quarantine(
    rt: Runtime,
    batch: _Batch,
    info: RawObjectInfo,
    kind: str,
    user: str,
    reason: str,
    *,
    copy: bool = True,
) -> None:
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
        f"rolled back and the {_n_done(report)} objects before it are saved: run `spotify-pipeline process` "
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


def _n_done(report: JobReport) -> int:
    return report.counts.get("objects_loaded", 0)


def _load(
    conn: Any,
    kind: str,
    envelope: dict[str, Any],
    user: str,
    key: str,
    now: datetime,
    report: JobReport,
    memo: WriteMemo | None = None,
) -> int:
    """Load one parsed object inside the caller's transaction (``enrich`` loads what it landed so)."""
    return _save(conn, kind, object_rows(kind, envelope, user, key, now), user, now, report, memo)


def _save(
    conn: Any,
    kind: str,
    rows: ObjectRows,
    user: str,
    now: datetime,
    report: JobReport,
    memo: WriteMemo | None,
) -> int:
    report.problems.extend(rows.problems)
    if kind == "recently_played":
        inserted = sum(
            writes.save_recently_played(conn, page, loaded_at=now, memo=memo) for page in rows.pages
        )
        report.add("plays_inserted", inserted)
        return inserted
    if kind == "following_artists":
        folded = 0
        for snapshot in rows.snapshots:
            # The page holds full artist objects.
            writes.save_artists_full(conn, snapshot.artists, fetched_at=snapshot.seen_at, memo=memo)
            ids = {a.id for a in snapshot.artists}
            new, gone = writes.fold_followed_snapshot(conn, user, ids, snapshot.seen_at, memo=memo)
            report.add("follows_opened", new)
            report.add("follows_closed", gone)
            folded += len(snapshot.artists)
        return folded
    if kind == "artist_albums":
        saved = save_release_checks(conn, user, rows.release_checks, memo, at=now)
        report.add("releases_seen", saved)
        return saved
    saved = sum(_save_lookup(conn, lookup, memo) for lookup in rows.lookups)
    report.add("metadata_rows", saved)
    return saved


def _save_lookup(conn: Any, lookup: Lookup, memo: WriteMemo | None) -> int:
    rows, at = lookup.rows, lookup.at
    if rows is None:
        writes.record_miss(conn, lookup.miss_kind, lookup.ident, status="404", attempted_at=at)
        return 0
    if isinstance(rows, ArtistRow):
        writes.save_artists_full(conn, [rows], fetched_at=at, memo=memo)
    elif isinstance(rows, AlbumRow):
        writes.save_albums_full(conn, [rows], fetched_at=at, memo=memo)
    elif isinstance(rows, AudioFeaturesRow):
        writes.save_audio_features(conn, [rows], fetched_at=at)
    else:
        writes.save_tracks_full(conn, rows, seen_at=at, memo=memo)
    return 1
