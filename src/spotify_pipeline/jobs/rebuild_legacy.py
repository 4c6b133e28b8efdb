"""Imports made before the raw zone kept a record of each import: found in the old warehouse's
``import_runs``, given their record in the raw zone once, then replayed like every other import.

Only a fallback: an import made by this release has its record in the raw zone
(``jobs/import_records.py``) and needs no warehouse. An older one is known only from the warehouse
being replaced, if there is one: its run (status ok or partial) gets a record stamped with the run's
start and its id as ``seq``, so its place in the order is kept and the next rebuild needs the
warehouse no more. Its files come from the archive keys its report names, or, for one made before
exports were archived at all, from the paths it recorded (archived now); if those are gone it is
named in the report, never skipped silently.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ..errors import PipelineError
from ..exports.reader import discover, sniff
from ..landing.store import RawStore
from ..settings import Settings
from ..warehouse.runs import import_runs_at
from .import_archive import ArchivedExport, archive_files
from .import_records import RecordedImport, write_record
from .report import JobReport

IMPORT_STATUSES = ("ok", "partial")  # a failed import of that time was not replayed then either


@dataclass(frozen=True)
class OldRun:
    id: int
    user_id: str
    started_at: datetime
    source: str  # as given, in full (the column is cut at 1024 characters; the report is not)
    report: dict[str, Any]


def record_older_imports(
    store: RawStore, settings: Settings, records: list[RecordedImport], report: JobReport
) -> tuple[int, int]:
    """Write a record for every import of the configured warehouse that has none. Returns how many
    were written, and how many could not be (files gone: named in the report)."""
    written = failed = 0
    for run in _unrecorded(_old_runs(settings.warehouse_url.get_secret_value()), records):
        archive = ArchivedExport.from_report(run.report)
        if archive is None:
            archive = _archive_from_paths(store, run, report)
            if archive is None:
                failed += 1
                continue
        origin = f"import_runs #{run.id} of the warehouse replaced by rebuild"
        tolerance = settings.export_match_tolerance_seconds  # older runs did not record it
        write_record(store, run.user_id, run.started_at, archive, tolerance, origin, seq=run.id)
        written += 1
    if written:
        report.add("imports_recorded_from_warehouse", written)
    return written, failed


def _unrecorded(runs: list[OldRun], records: list[RecordedImport]) -> list[OldRun]:
    """The runs no record in the raw zone stands for, each record standing for one run: the run
    started at the record's time (an import made by this release, or one given its record by an
    earlier rebuild), else a run of the same user, source and archived files (a run a rebuild
    replayed: it started at the rebuild's time)."""
    free = list(records)
    left: list[OldRun] = []
    for run in runs:
        same = next(
            (r for r in free if (r.user, _ms(r.started_at)) == (run.user_id, _ms(run.started_at))), None
        )
        if same is None:
            left.append(run)
        else:
            free.remove(same)
    out = []
    for run in left:
        keys = sorted(str(a["key"]) for a in run.report.get("archived") or [])
        same = next(
            (r for r in free if keys and (r.user, r.archive.source, sorted(f.key for f in r.archive.files))
             == (run.user_id, run.source, keys)),
            None,
        )  # fmt: skip
        if same is None:
            out.append(run)
        else:
            free.remove(same)
    return out


def _ms(at: datetime) -> datetime:
    """The warehouse keeps milliseconds (``UtcDateTime``); the record, the clock's microseconds."""
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


def _old_runs(url: str) -> list[OldRun]:
    """The successful runs of ``import_runs`` in the warehouse at ``url``; none if there is none."""

    rows = import_runs_at(url, IMPORT_STATUSES)
    out = []
    for run_id, user_id, started_at, source, report_json in rows:
        recorded = json.loads(report_json) if report_json else {}
        out.append(OldRun(run_id, user_id, started_at, str(recorded.get("source", source)), recorded))
    return out


def _archive_from_paths(store: RawStore, run: OldRun, report: JobReport) -> ArchivedExport | None:
    """Archive the files an import made before archiving named, if they are still there."""

    paths = [Path(p) for p in run.source.split(", ")]
    missing = [p for p in paths if not p.exists()]
    if missing:
        report.problems.append(
            f"import {run.id} of the warehouse was not replayed: it was made before export files were "
            f"archived in the raw zone, and {', '.join(map(str, missing))} no longer exists; run "
            "`spotify-pipeline import-history PATH` with the export again"
        )
        return None
    try:
        found = discover(paths)
        sniffed = [sniff(f) for f in found.files]
        known = [s.file for s in sniffed if s.format is not None]
        unknown = [(s.file.name, s.problem or "not a streaming history") for s in sniffed if s.format is None]
        files = archive_files(store, run.user_id, known)
    except PipelineError as exc:
        report.problems.append(
            f"import {run.id} of the warehouse could not be archived from its paths: {exc}"
        )
        return None
    report.add("imports_archived_from_paths")
    return ArchivedExport(source=run.source, files=files, ignored=list(found.ignored), unknown=unknown)
