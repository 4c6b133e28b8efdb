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

This module is the job's control flow; the batch, its savepoints and what a failed write means are
in ``process_batch``, reading an object in ``process_read``, saving its rows by kind in ``process_save``.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from ..clock import Clock
from ..errors import MalformedRawObject, PipelineError
from ..landing.keys import USERS_PREFIX, logical_key, parse_key
from ..landing.store import RawObjectInfo
from ..settings import Settings
from ..transform.raw_object import object_rows
from ..transform.recently_played import ItemCache, UndecodedItem
from ..warehouse import manifest, rollups
from .bookkeeping import catch_up
from .process_batch import Batch, n_done, quarantine, write_object
from .process_read import read_members
from .progress import ProgressFn, no_progress
from .report import JobReport
from .runtime import Runtime

log = logging.getLogger(__name__)

KINDS = ("recently_played", "following_artists", "metadata", "artist_albums")


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
    batch = Batch(rt, report)
    try:
        seen, todo = _todo(rt, partition, reload_between)
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
            f"back and the {n_done(report)} objects before it are saved; run `spotify-pipeline process` "
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


def _todo(
    rt: Runtime, partition: str | None, reload_between: tuple[datetime, datetime] | None
) -> tuple[dict[str, tuple[Any, Any]], list[list[RawObjectInfo]]]:
    """The manifest's (etag, status) by key, and the groups to load: those with a variant the
    manifest does not list at its etag, and those whose hour ``reload_between`` reloads."""
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
        if any(seen.get(i.key, (None,))[0] != i.etag for i in group) or _within(group[0].key, reload_between)
    ]
    return seen, todo


def _groups(listed: list[RawObjectInfo]) -> list[list[RawObjectInfo]]:
    """The listed objects by logical key (an hour's ``.json`` and ``.json.gz`` together), in key order."""
    by_key: dict[str, list[RawObjectInfo]] = {}
    for info in listed:
        by_key.setdefault(logical_key(info.key), []).append(info)
    return [sorted(by_key[k]) for k in sorted(by_key)]


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
    batch: Batch,
    cache: ItemCache | None = None,
) -> None:
    """Load one object (one or both variants of an hour) in a savepoint of the batch's transaction."""
    kind, _hour, key_user = parse_key(members[0].key)
    user = key_user or settings.user
    batch.current = members[0].key
    # A recently-played hour with one variant is read with its items undecoded (the item cache
    # decodes only the items it has not seen); one with an item msgspec refuses is read again exactly.
    lazy = cache is not None and kind == "recently_played" and len(members) == 1
    read = read_members(rt, members, kind, user, batch, lazy=lazy)
    if read is None:
        return
    good, envelope, clean = read
    try:
        try:
            rows = object_rows(kind, envelope, user, good[0].key, rt.clock.now(), cache if clean else None)
        except UndecodedItem:
            read = read_members(rt, members, kind, user, batch)
            if read is None:
                return
            good, envelope, clean = read
            rows = object_rows(kind, envelope, user, good[0].key, rt.clock.now(), cache if clean else None)
    except MalformedRawObject as exc:
        for info in good:
            quarantine(rt, batch, info, kind, user, exc.reason)
        return
    except (RecursionError, ValueError) as exc:
        for info in good:
            quarantine(rt, batch, info, kind, user, f"invalid JSON: {exc}")
        return
    except (PipelineError, MemoryError):
        raise
    except Exception as exc:  # noqa: BLE001 - the safety net: one object's surprise never blocks the rest
        log.debug("unexpected failure reading %s", good[0].key, exc_info=True)
        for info in good:
            quarantine(rt, batch, info, kind, user, f"unexpected {type(exc).__name__}: {exc}")
        return
    write_object(rt, batch, good, kind, user, rows)
