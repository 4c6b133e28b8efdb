"""Rebuild the warehouse from the raw zone alone, into a new database swapped in only when complete.

What is rebuilt and from where (all of it in the raw zone):

- plays, tracks, albums, artists, credits, audio features, metadata misses, followed-artist
  history and the manifest: by loading every raw object, exactly as ``process`` does (a malformed
  object is quarantined and reported, as ``process`` does, and the rest loads);
- gaps: by replaying every recently-played fetch of the objects that loaded, in ``fetched_at``
  order, with the rule ``download_recently_played`` applies when it fetches (a full page whose oldest
  play is newer than the newest play seen before it);
- export imports: by running each import recorded in ``imports/<user>/_runs/`` again, oldest first,
  from the copies of its files archived beside the record, under the names and with the matching
  tolerance it had (``jobs/import_records.py``), so the replayed report reads the same. Imports made
  before imports were recorded there are found in the warehouse being replaced, if it exists, and
  given their record first (``jobs/rebuild_legacy.py``); the report counts them.

Where: into a staging database beside the target (``warehouse/staging.py``), swapped in by one
atomic step only when everything loaded; an error, Ctrl-C or SIGKILL before that leaves the
configured warehouse exactly as it was, and the next rebuild removes the leftovers and starts over.
An import that could not be replayed stops an in-place rebuild before the swap (its plays would be
lost); into another database (``target_url``) the rebuild goes on and reports it.

Not rebuilt, because the raw zone never held them: ``fetch_runs`` (the log of API calls and failed
runs) and ``app_state`` (pauses, remembered capabilities, the poll cursor). Load-time stamps
(``loaded_at``, ``created_at``, ``first_seen_at``, ``detected_at``, ``closed_at``, the import run's
start and finish) are the rebuild's own times.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import SecretStr

from ..clock import Clock, from_ms, to_ms
from ..errors import MalformedRawObject, MalformedRecord, PipelineError
from ..landing.decode import parse_object
from ..landing.envelope import fetch_identity
from ..landing.keys import logical_key, parse_key
from ..settings import Settings, mask_url
from ..transform.gaps import advance, detect_gap
from ..transform.timestamps import parse_played_at
from ..warehouse import rollups
from ..warehouse.gaps import record_gap
from ..warehouse.manifest import manifest_entries
from ..warehouse.reads import count_open_gaps
from ..warehouse.staging import holds_data, staged
from .import_history import import_history
from .import_records import RecordedImport, list_records
from .process import process
from .progress import ProgressFn, no_progress
from .rebuild_legacy import record_older_imports
from .report import JobReport
from .runtime import Runtime

if TYPE_CHECKING:
    from ..warehouse.staging import Stage

log = logging.getLogger(__name__)

INTERRUPTED = "rebuild interrupted: the warehouse was not changed; run it again"


class RebuildInterrupted(PipelineError):
    """Ctrl-C during a rebuild: the one line the user sees."""


def rebuild(
    settings: Settings,
    *,
    clock: Clock | None = None,
    runtime: Runtime | None = None,
    target_url: str | None = None,
    progress: ProgressFn | None = None,
) -> JobReport:
    """Recreate the warehouse at ``target_url`` (default: the settings' own, replaced) from the raw
    zone. Returns what was rebuilt and what could not be; Ctrl-C raises ``RebuildInterrupted``."""
    base = Runtime.resolve(settings, runtime, clock=clock)
    target = target_url or settings.warehouse_url.get_secret_value()
    stages: list[Stage] = []
    try:
        report = _rebuild(base, settings, target, progress or no_progress, stages)
    except KeyboardInterrupt:
        if stages and stages[0].swapped:
            raise RebuildInterrupted(
                "rebuild interrupted while cleaning up: the rebuilt warehouse is in place; the next "
                "rebuild removes what is left beside it"
            ) from None
        raise RebuildInterrupted(INTERRUPTED) from None
    log.info("%s", report.message)
    return report


def _rebuild(
    base: Runtime, settings: Settings, target: str, show: ProgressFn, stages: list[Stage]
) -> JobReport:
    in_place = target == settings.warehouse_url.get_secret_value()
    if not in_place and holds_data(target):
        raise PipelineError(
            f"the rebuild target {_masked(target)} already holds data: rebuild into an empty "
            "database, or leave the target out to rebuild the configured warehouse in place"
        )
    report = JobReport("rebuild")
    records, lost = _imports(base, settings, report)
    with staged(target) as stage:
        stages.append(stage)  # so an interruption can tell whether the swap was done
        target_settings = settings.model_copy(update={"warehouse_url": SecretStr(target)})
        rt = Runtime(
            target_settings, clock=base.clock, transport=base.transport, engine_override=stage.engine
        )
        _load(rt, report, show)
        _gaps(rt, report, show)
        failed = lost + _replay(rt, records, report, show)
        rollups.rebuild_all(rt.engine)
        _count_open_gaps(rt, report)
        if failed and in_place:
            report.status = "failed"
            report.message = (
                f"the warehouse was not changed: {failed} recorded import(s) could not be replayed and "
                "their plays would be lost. Fix what the warnings name and run again, or rebuild into "
                "another database with --target-url to keep what can be rebuilt"
            )
            return report
        show(0, None, "swapping the rebuilt warehouse in")
        stage.swap()
    if report.problems:
        report.status = "partial"
    report.message = _summary(target, base.store.location, report)
    return report


def _imports(rt: Runtime, settings: Settings, report: JobReport) -> tuple[list[RecordedImport], int]:
    """The recorded imports, oldest first: the raw zone's, after older ones got their record; and
    how many imports are known but cannot be replayed (an unreadable record, files gone)."""
    records, problems = list_records(rt.store)
    written, unarchived = record_older_imports(rt.store, settings, records, report)
    if written:
        records, problems = list_records(rt.store)
    report.problems.extend(problems)
    return records, len(problems) + unarchived


def _load(rt: Runtime, report: JobReport, show: ProgressFn) -> None:
    def counted(done: int, total: int | None = None, _text: str | None = None) -> None:
        show(done, total, "loading raw objects")

    show(0, None, "loading raw objects")
    loaded = process(rt.settings, runtime=rt, progress=counted)
    for name, n in loaded.counts.items():
        report.add(name, n)
    report.problems += loaded.problems


def _gaps(rt: Runtime, report: JobReport, show: ProgressFn) -> None:
    with rt.engine.begin() as conn:
        loaded = {k for k, e in manifest_entries(conn, "recently_played").items() if e["status"] == "loaded"}
    found = _replayed_gaps(rt, loaded, report, show)
    with rt.engine.begin() as conn:
        for user, gap_from, gap_to, detected_at, key in found:
            if record_gap(conn, user, gap_from=gap_from, gap_to=gap_to, detected_at=detected_at, raw_key=key):
                report.add("gaps_detected")


def _replay(rt: Runtime, records: list[RecordedImport], report: JobReport, show: ProgressFn) -> int:
    """Run every recorded import again, oldest first; how many could not be."""

    total = sum(len(r.archive.files) for r in records)
    done = failed = 0
    show(0, total, "replaying imports: archived files")
    for n, recorded in enumerate(records, 1):
        user_settings = rt.settings.model_copy(
            update={"user": recorded.user, "export_match_tolerance_seconds": recorded.tolerance_seconds}
        )
        try:
            replayed = import_history(
                user_settings, recorded.archive, clock=rt.clock, engine=rt.engine, store=rt.store
            )
        except PipelineError as exc:
            failed += 1
            report.problems.append(
                f"import {n} ({recorded.archive.source}, recorded in {recorded.key}) could not be replayed: {exc}"
            )
            continue
        finally:
            done += len(recorded.archive.files)
            show(done, total, "replaying imports: archived files")
        report.add("imports_replayed")
        report.add("plays_imported", replayed.imported_new)
        report.add("gaps_closed_by_imports", len(replayed.gaps_closed))
    return failed


def _count_open_gaps(rt: Runtime, report: JobReport) -> None:
    with rt.engine.connect() as conn:
        report.counts["gaps_open"] = count_open_gaps(conn)


def _summary(target: str, location: str, report: JobReport) -> str:
    c = report.counts.get
    text = (
        f"rebuilt {_masked(target)} from {location}: {c('objects_loaded', 0):,} objects loaded"
        f" ({c('objects_quarantined', 0):,} quarantined), {c('plays_inserted', 0):,} plays from the API,"
        f" {c('imports_replayed', 0):,} imports replayed ({c('plays_imported', 0):,} export plays),"
        f" {c('gaps_detected', 0):,} gaps found ({c('gaps_open', 0):,} still open)"
    )
    if c("imports_recorded_from_warehouse"):
        text += (
            f"; {c('imports_recorded_from_warehouse')} import(s) made before this release were read from the "
            "old warehouse and are now recorded in the raw zone"
        )
    if c("imports_archived_from_paths"):
        text += (
            f"; {c('imports_archived_from_paths')} of them predated export archiving and were replayed from "
            "their original files, which are now archived in the raw zone"
        )
    return text


def _masked(url: str) -> str:
    return mask_url(url)


def _replayed_gaps(
    rt: Runtime, loaded: set[str], report: JobReport, show: ProgressFn
) -> list[tuple[str, datetime, datetime, datetime, str]]:
    """Replay the recently-played fetches of the objects that loaded, in time order, with
    ``download_recently_played``'s gap rule. An object that cannot be read is reported, never fatal."""
    fetches: list[tuple[datetime, str, str, list[int]]] = []
    groups: dict[str, list[str]] = {}
    for key in sorted(loaded):  # an hour's .json and .json.gz: one object, each fetch replayed once
        groups.setdefault(logical_key(key), []).append(key)
    for i, members in enumerate(groups.values(), 1):
        show(i, len(groups), "re-deriving gaps from recently-played objects")
        seen: set[str] | None = set() if len(members) > 1 else None  # identities: only where needed
        for key in members:  # .json first: a fetch in both was landed there first
            try:
                fetches.extend(_fetches(rt, key, seen))
            except (
                MalformedRawObject,
                MalformedRecord,
                ValueError,
                TypeError,
                KeyError,
                AttributeError,
            ) as exc:
                report.problems.append(f"{key}: its fetches were left out of the gap check ({exc})")
    gaps = []
    newest: dict[str, int] = {}
    for fetched_at, user, key, played in sorted(fetches, key=lambda f: (f[0], f[2])):
        known = newest.get(user)
        found = detect_gap(played, known)
        if found:
            gaps.append((user, from_ms(found[0]), from_ms(found[1]), fetched_at, key))
        after = advance(played, known)
        if after is not None:
            newest[user] = after
    return gaps


def _fetches(
    rt: Runtime, key: str, seen: set[str] | None = None
) -> list[tuple[datetime, str, str, list[int]]]:
    """The replayable fetches of one stored object, but those in ``seen`` (the identities of the
    fetches its other variant held), which it adds to."""
    _kind, _hour, key_user = parse_key(key)
    envelope = parse_object(rt.store.get(key) or b"", key)
    user = key_user or envelope.get("user") or rt.settings.user
    out = []
    for fetch in envelope["fetches"]:
        at, page = fetch.get("fetched_at"), fetch.get("response")
        if not at or fetch.get("status", 200) != 200 or not isinstance(page, dict):
            continue  # a bare legacy page has no fetch time to order it by
        if seen is not None:
            identity = fetch_identity(fetch)
            if identity in seen:
                continue
            seen.add(identity)
        items = page.get("items") or []
        played = sorted(to_ms(parse_played_at(i["played_at"])) for i in items if i.get("played_at"))
        out.append((parse_played_at(at), user, key, played))
    return out
