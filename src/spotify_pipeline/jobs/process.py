"""Load landed raw objects into the warehouse: catch-up by manifest, one transaction per object.

An object is loaded when the manifest (``landed_files``) does not list it with the same content
hash: new objects, objects that a later fetch merged into, and objects edited by hand all load,
and since a play's identity is (user, played_at) a reload never counts anything twice. Nothing
depends on "today and yesterday" by wall clock.

One bad object never blocks the rest: whatever goes wrong while reading, transforming or writing
one object (a malformed page, a value no column can hold, a value the database refuses, a bug) is
that object's problem: it is quarantined with the reason and the next one loads. Only a warehouse
that is down (connection lost, disk gone) or a raw zone that cannot be read stops the run, since
every later object would fail the same way.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, SQLAlchemyError, StatementError

from ..clock import Clock
from ..errors import MalformedRawObject, PipelineError
from ..landing.envelope import parse_object_checked
from ..landing.keys import USERS_PREFIX, parse_key
from ..landing.store import RawObjectInfo
from ..settings import Settings
from ..transform.raw_object import Lookup, ObjectRows, object_rows
from ..transform.recently_played import ItemCache
from ..warehouse.memo import WriteMemo
from ..warehouse.upsert import RowRejected
from .progress import ProgressFn, no_progress
from .report import JobReport
from .runtime import Runtime

log = logging.getLogger(__name__)

KINDS = ("recently_played", "following_artists", "metadata", "artist_albums")
# The largest object process reads. A real one is far smaller (an hour of polls: a few MB; every
# followed artist: a few MB); a bigger file under a raw key is not one of ours, and reading it
# whole would take its size in memory.
MAX_OBJECT_BYTES = 64 * 1024 * 1024
_MAX_REASON = 2000  # characters of a reason kept in the manifest and the sidecar


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
    rt = Runtime.resolve(settings, runtime, clock=clock)
    report = JobReport("process")
    progress = progress or no_progress
    from ..warehouse.manifest import manifest_entries
    from .bookkeeping import catch_up

    catch_up(rt, report)  # fetches landed while the warehouse was down: gap checks before their plays load

    current: str | None = None
    try:
        # The manifest in one query, not one per object: an object another run loads meanwhile is at
        # worst loaded twice, which adds nothing (a play's identity is its key).
        with rt.engine.connect() as conn:
            manifest = {key: entry["etag"] for key, entry in manifest_entries(conn).items()}
        # Keys are filtered before the store looks at a file's content: a stray file is never read.
        todo = [
            info
            for info in rt.store.list(partition or "", accept=_is_ours)
            if (manifest.get(info.key) != info.etag or _within(info.key, reload_between))
            and not (partition == "" and info.key.startswith(USERS_PREFIX))
        ]
        memo = WriteMemo()  # this run's own writes, so a year of overlapping pages is not re-sent
        cache = ItemCache()  # this run's transformed items, so a play listed in six pages is read once
        progress(0, len(todo), "loading raw objects")
        for done, info in enumerate(todo, start=1):
            current = info.key
            _process_one(rt, settings, info, memo, report, cache)
            progress(done, len(todo), "loading raw objects")
    except KeyboardInterrupt:
        if current is None:
            raise PipelineError("process interrupted (Ctrl-C) before it loaded anything") from None
        raise PipelineError(
            f"process interrupted (Ctrl-C) while loading {current}: that object's transaction was rolled "
            f"back and the {_n_done(report)} objects before it are saved; run `spotify-pipeline process` "
            "again to load the rest"
        ) from None
    if report.problems:
        report.status = "partial"
    n = report.counts.get("objects_loaded", 0)
    report.message = f"loaded {n} objects, {report.counts.get('plays_inserted', 0)} new plays"
    return report


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
    info: RawObjectInfo,
    memo: WriteMemo,
    report: JobReport,
    cache: ItemCache | None = None,
) -> None:
    kind, _hour, key_user = parse_key(info.key)
    user = key_user or settings.user
    try:
        if info.size > MAX_OBJECT_BYTES:
            # Not read, and not copied to the quarantine either (that would read it): left in place.
            reason = (
                f"the file is {info.size / 2**20:,.0f} MiB, over the {MAX_OBJECT_BYTES // 2**20} MiB a raw "
                "object may be; it is not a raw object this pipeline wrote: move it out of the raw zone"
            )
            _quarantine(rt, info, kind, user, reason, report, copy=False)
            return
        data = rt.store.get(info.key)
        if data is None:  # deleted between list and get
            return
        rows = read_object(data, info.key, kind, user, rt.clock.now(), cache)
        _write(rt, info, kind, user, rows, memo, report)
    except MalformedRawObject as exc:
        _quarantine(rt, info, kind, user, exc.reason, report)
    except DBAPIError as exc:
        if not isinstance(exc, DataError | IntegrityError):
            raise _warehouse_down(info.key, exc, report) from None
        # The database refused a value of this object (the transform's checks should have caught
        # it first): the object's problem, not the warehouse's. The driver's words name the column.
        _quarantine(rt, info, kind, user, f"the warehouse refused it: {_driver_words(exc)}", report)
    except RowRejected as exc:
        _quarantine(rt, info, kind, user, f"a value does not fit the warehouse: {exc}", report)
    except SQLAlchemyError as exc:
        if not isinstance(exc, StatementError):  # pool timeout, a connection left unusable, ...
            raise _warehouse_down(info.key, exc, report) from None
        # A value the column type's own conversion refused (before the driver saw it): this object's.
        _quarantine(rt, info, kind, user, f"a value does not fit the warehouse: {exc.orig!r}", report)
    except (PipelineError, MemoryError):
        raise  # the raw zone cannot be read (StoreError), ...: every later object would fail too
    except Exception as exc:  # noqa: BLE001 - the safety net: one object's surprise never blocks the rest
        log.debug("unexpected failure loading %s", info.key, exc_info=True)
        _quarantine(rt, info, kind, user, f"unexpected {type(exc).__name__}: {exc}", report)


def read_object(
    data: bytes, key: str, kind: str, user: str, now: datetime, cache: ItemCache | None = None
) -> ObjectRows:
    """The rows of a raw object's bytes; raises only MalformedRawObject, whatever the bytes.
    ``cache`` (one per run) is used only for an object msgspec decoded, where it is exact."""
    try:
        envelope, clean = parse_object_checked(data, key)
    # parse_object turns json's own RecursionError and ValueError (an integer of over 4300 digits)
    # into MalformedRawObject; these catch the same from its later steps (it re-encodes fetches).
    except RecursionError:
        raise MalformedRawObject(key, "JSON nested too deeply to read (over ~1000 levels)") from None
    except ValueError as exc:
        raise MalformedRawObject(key, f"invalid JSON: {exc}") from None
    return object_rows(kind, envelope, user, key, now, cache if clean else None)


def _write(
    rt: Runtime,
    info: RawObjectInfo,
    kind: str,
    user: str,
    rows: ObjectRows,
    memo: WriteMemo,
    report: JobReport,
) -> None:
    from ..warehouse import manifest, writes

    counts = JobReport("object")  # this object's counts join the report only once it committed
    # memo.transaction() outside begin(): the memo keeps rows only after the commit.
    with memo.transaction(), rt.engine.begin() as conn:
        now = rt.clock.now()
        writes.ensure_user(conn, user, now, memo=memo)
        inserted = _save(conn, kind, rows, user, now, counts, memo)
        manifest.mark_loaded(
            conn,
            info.key,
            kind=kind,
            user_id=user,
            etag=info.etag,
            size=info.size,
            rows=inserted,
            loaded_at=now,
        )
    for name, n in counts.counts.items():
        report.add(name, n)
    report.problems.extend(counts.problems)
    report.add("objects_loaded")


def _quarantine(
    rt: Runtime,
    info: RawObjectInfo,
    kind: str,
    user: str,
    reason: str,
    report: JobReport,
    *,
    copy: bool = True,
) -> None:
    from ..warehouse import manifest

    reason = _readable(reason)
    where = f"copy at {rt.store.quarantine(info.key, reason)}" if copy else "left in place"
    try:
        with rt.engine.begin() as conn:
            manifest.mark_quarantined(
                conn, info.key, kind=kind, user_id=user, etag=info.etag, reason=reason, size=info.size,
                loaded_at=rt.clock.now(),
            )  # fmt: skip
    except DBAPIError as exc:
        raise _warehouse_down(info.key, exc, report) from None
    report.add("objects_quarantined")
    report.problems.append(f"quarantined {info.key} ({where}): {reason}")
    log.error("quarantined %s: %s", info.key, reason)


def _warehouse_down(key: str, exc: SQLAlchemyError, report: JobReport) -> PipelineError:
    return PipelineError(
        f"the warehouse failed while loading {key} ({_driver_words(exc)}); that object's transaction was "
        f"rolled back and {_n_done(report)} objects before it are saved: run `spotify-pipeline process` "
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
    from ..warehouse import writes

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
        from ..warehouse.releases import save_release_checks

        saved = save_release_checks(conn, user, rows.release_checks, memo, at=now)
        report.add("releases_seen", saved)
        return saved
    saved = sum(_save_lookup(conn, lookup, memo) for lookup in rows.lookups)
    report.add("metadata_rows", saved)
    return saved


def _save_lookup(conn: Any, lookup: Lookup, memo: WriteMemo | None) -> int:
    from ..transform.rows import AlbumRow, ArtistRow, AudioFeaturesRow
    from ..warehouse import writes

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
