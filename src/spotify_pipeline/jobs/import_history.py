"""Import a Spotify privacy export: every record accounted for, no play twice, gaps closed.

The flow (docs/import-history.md has the decisions and their reasons):

1. Find the JSON files (zip, folder, files) and recognise each by content. Extended-format files
   are imported first, then podcast/audiobook account files, then account music, so account rows
   can be recognised as copies of plays an extended file of the same import already gave, and legacy
   rows named like an episode seen before as podcasts.
2. Stream each file; records go into batches of ``BATCH`` ordered by time. Per batch, one range
   query per time cluster fetches the warehouse plays around it; the pure matcher pairs records
   with plays; matched API plays are enriched with the export columns, account-data rows of an
   earlier import that an extended record describes are upgraded in place, the rest are inserted.
3. One transaction per batch: an interrupted import leaves whole batches behind, and running it
   again recomputes the same rows at the same ``played_at`` (deterministic from the record), so the
   unique key turns what is already there into "already imported", never into a second row.

Memory: one batch of records, the set of identities seen (one int per play, for duplicates inside
the export), the played_at values this run assigned and one (digest, time) per private-session play
(for account data, which has no private flag); never a whole file.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NoReturn

from sqlalchemy import Connection
from sqlalchemy.engine import Engine

from ..clock import Clock, SystemClock
from ..errors import MalformedRecord, PipelineError
from ..exports.formats import EmptyRecord, ExportFormat, ExportRecord
from ..exports.limits import FUTURE_MARGIN
from ..exports.matching import MINUTE
from ..exports.reader import Discovered, ExportReadError, FileReader, Sniffed, discover, sniff
from ..exports.report import FILE_PARTIAL, FileSummary, ImportReport
from ..landing.store import RawStore, open_store
from ..settings import Settings
from ..warehouse import gaps, reads, runs
from .import_archive import ArchivedExport, archive_files
from .import_batch import BatchImporter
from .import_records import record_import
from .import_resolve import Resolver
from .import_runs import ImportFailed, ImportInterrupted, close_abandoned_runs, finish_run, one_line
from .progress import ProgressFn
from .runtime import migrated_engine

log = logging.getLogger(__name__)

__all__ = ["ImportFailed", "ImportInterrupted", "import_history"]

#: Records per batch (one transaction). 20,000 rather than 5,000: a SQLite commit of a large batch
#: ends in a WAL checkpoint (an fsync) whatever its size, so fewer, larger batches cost a quarter less
#: (measured on a 100k-record import); a batch of records and its rows is a few tens of MB.
BATCH = 20_000
#: How often (records) the progress callback is called within a file.
PROGRESS_EVERY = 1_000


def import_history(
    settings: Settings,
    path: Path | Sequence[Path] | ArchivedExport,
    *,
    clock: Clock | None = None,
    progress: ProgressFn | None = None,
    resolver: Resolver | None = None,
    engine: Engine | None = None,
    store: RawStore | None = None,
) -> ImportReport:
    """Import the export at ``path`` (a zip, a folder, a file, or a list of them) for ``settings.user``.

    Every recognised file is first copied into the raw zone (``store``, default: the settings' own)
    and the keys recorded in the report; an ``ArchivedExport`` (``rebuild``) is read back from there
    instead, under the names the original import gave.
    ``progress(records_read, None, description)`` is called as records are read. ``resolver(track,
    artist) -> track id | None`` resolves account-data rows (e.g. ``SpotifyClient.search_track``);
    without one they keep their names. The report's status is ``ok`` or ``partial`` (a file or a
    record was not imported: ``report.why_partial()``). Raises ImportInterrupted on Ctrl-C,
    ImportFailed on any other failure after the run was recorded (the run is then marked
    ``interrupted`` / ``failed``, never left ``running``), ReportMismatch if the numbers do not add up.
    """
    clock = clock or SystemClock()
    if engine is None:
        engine = migrated_engine(settings.warehouse_url.get_secret_value())
    if store is None:
        store = open_store(settings, clock)
    report, ordered, files_found = _survey(settings, path, store)
    started_at = clock.now()
    if not isinstance(path, ArchivedExport):
        # The record rebuild replays, write-once in the raw zone next to the archived files.
        record_import(store, settings, report, started_at)

    with engine.begin() as conn:
        close_abandoned_runs(conn, settings.user, started_at)
        report.import_id = runs.start_import_run(
            conn, settings.user, source=report.source[:1024], started_at=started_at
        )
    try:
        _read_all(settings, report, ordered, engine, clock, progress, resolver)
        _conclude(engine, report, clock, files_found)
    except KeyboardInterrupt:
        finish_run(engine, report, clock, "interrupted", f"interrupted after {report.records_read} records")
        raise ImportInterrupted(report.records_read, report.import_id) from None
    except BaseException as exc:
        _fail(engine, report, clock, exc)
    finish_run(engine, report, clock, report.status, report.error)
    log.info(
        "import %s: %s", report.import_id, {k: v for k, v in report.to_dict().items() if isinstance(v, int)}
    )
    return report


def _conclude(engine: Engine, report: ImportReport, clock: Clock, files_found: int) -> None:
    """Every file read: the status, the gaps the export covers closed, the numbers checked."""
    report.status = report.outcome()
    with engine.begin() as conn:
        # A file not read to its end may hide plays inside a gap: then no gap is closed.
        if not report.files_lost and report.first_play is not None and report.last_play is not None:
            report.gaps_closed = _close_gaps(conn, report, clock)
        report.gaps_open = len(reads.open_gaps(conn, report.user_id))
    report.check(files_found)


def _fail(engine: Engine, report: ImportReport, clock: Clock, exc: BaseException) -> NoReturn:
    """Mark the run failed and raise: a PipelineError (or a non-Exception) as it is, anything else
    as ImportFailed naming the run."""
    why = str(exc) if isinstance(exc, PipelineError) else one_line(exc)
    finish_run(engine, report, clock, "failed", why)
    if isinstance(exc, PipelineError) or not isinstance(exc, Exception):
        raise exc
    log.debug("import %s failed", report.import_id, exc_info=exc)
    raise ImportFailed(
        f"import {report.import_id} failed after {report.records_read:,} records ({why}); the batch being "
        "written was rolled back and every earlier one is in: run it again (what is in is recognised)"
    ) from exc


def _survey(
    settings: Settings, path: Path | Sequence[Path] | ArchivedExport, store: RawStore
) -> tuple[ImportReport, list[Sniffed], int]:
    """Find and recognise the files, archive the recognised ones: the report so far, the files to
    read in import order, and how many JSON files were found (every one ends in one state)."""
    replay: ArchivedExport | None = None
    if isinstance(path, ArchivedExport):
        replay = path
        found = Discovered(replay.export_files(store), list(replay.ignored))
        source = replay.source
    else:
        paths = [path] if isinstance(path, Path) else list(path)
        found = discover(paths)
        source = ", ".join(str(p) for p in paths)
    report = ImportReport(source=source, user_id=settings.user, ignored_files=list(found.ignored))
    report.unreadable_files.extend(found.refused)
    files_found = len(found.files) + len(found.refused)
    if replay is not None:
        report.unknown_files.extend(replay.unknown)
        files_found += len(replay.unknown)
    sniffed = [sniff(file) for file in found.files]
    for one in sniffed:
        if one.status == "unknown":
            report.unknown_files.append((one.file.name, one.problem or "not a streaming history"))
        elif one.status == "unreadable":
            report.unreadable_files.append((one.file.name, one.problem or "could not be read"))
    ordered = _plan(sniffed)
    # Archived before the run is recorded: an import that could not keep its files imports nothing.
    if replay is not None:
        report.archived = list(replay.files)
        return report, ordered, files_found
    return report, _archive(store, settings.user, report, ordered), files_found


def _archive(store: RawStore, user: str, report: ImportReport, ordered: list[Sniffed]) -> list[Sniffed]:
    """Copy the recognised files into the raw zone; the ones kept (an unreadable one is reported)."""
    report.archived = []
    kept: list[Sniffed] = []
    for one in ordered:
        # File by file: one damaged zip member (a bad CRC past the part sniff read) is unreadable,
        # named in the report, and the others import. A raw zone that cannot be written (StoreError)
        # still stops the import before anything is recorded.
        try:
            report.archived += archive_files(store, user, [one.file])
        except ExportReadError as exc:
            detail = str(exc).removeprefix(f"{one.file.name}: ").replace("; nothing was imported", "")
            report.unreadable_files.append((one.file.name, detail))
            continue
        kept.append(one)
    return kept


def _read_all(
    settings: Settings,
    report: ImportReport,
    ordered: list[Sniffed],
    engine: Engine,
    clock: Clock,
    progress: ProgressFn | None,
    resolver: Resolver | None,
) -> None:
    """Read every recognised file and write its records, batch by batch (one transaction each)."""
    importer = BatchImporter(settings, report, resolver, clock)
    if any(sniffed.format is not None and sniffed.format.is_account for sniffed in ordered):
        with engine.connect() as conn:
            importer.load_private(conn)
    # A stream ending after the host's clock (plus skew) is a broken time, not a play.
    not_after = clock.now() + FUTURE_MARGIN
    for number, sniffed in enumerate(ordered, 1):
        fmt = sniffed.format
        assert fmt is not None
        label = f"importing {sniffed.file.name.rsplit('/', 1)[-1]} ({number}/{len(ordered)} files)"
        summary = FileSummary(sniffed.file.name, fmt.value)
        report.files.append(summary)
        batch: list[ExportRecord] = []
        reader = FileReader(sniffed.file, fmt, not_after)
        for item in reader:
            summary.records += 1
            report.records_read += 1
            if progress is not None and report.records_read % PROGRESS_EVERY == 0:
                progress(report.records_read, None, label)
            if isinstance(item, MalformedRecord):
                summary.malformed += 1
                report.add_malformed(item.source, item.index, item.reason, isinstance(item, EmptyRecord))
                continue
            report.see_time(item.ended_at)
            if importer.screen(item):
                batch.append(item)
                if len(batch) >= BATCH:
                    importer.flush(engine, batch, fmt)
                    batch = []
        importer.flush(engine, batch, fmt)
        if reader.problem is not None:
            summary.status, summary.problem = FILE_PARTIAL, reader.problem
        if progress is not None:
            progress(report.records_read, None, label)


_ORDER = {
    ExportFormat.EXTENDED: 0,
    ExportFormat.ENDSONG: 0,
    ExportFormat.ACCOUNT_PODCAST: 1,
    ExportFormat.ACCOUNT_AUDIOBOOK: 1,
    ExportFormat.ACCOUNT_MUSIC: 2,
    ExportFormat.ACCOUNT_LEGACY: 2,
}


def _plan(sniffed: Iterable[Sniffed]) -> list[Sniffed]:
    """The recognised files in import order: extended (their plays are the exact ones, and their
    episodes name the podcasts), then podcast/audiobook account files (more episode names), then
    account music and legacy files (copies of extended plays, legacy rows named like an episode)."""
    known = [one for one in sniffed if one.format is not None]
    return sorted(known, key=lambda one: (_ORDER[one.format], _natural(one.file.name)))  # type: ignore[index]


def _natural(name: str) -> tuple[int | str, ...]:
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name))


def _close_gaps(conn: Connection, report: ImportReport, clock: Clock) -> list[int]:
    assert report.first_play is not None and report.last_play is not None
    # Account data has minute precision: the export covers up to the end of its last minute.
    end = report.last_play + MINUTE
    before = {gap["id"] for gap in reads.open_gaps(conn, report.user_id)}
    gaps.close_gaps_covered(
        conn,
        report.user_id,
        start=report.first_play,
        end=end,
        closed_by=f"import:{report.import_id}",
        closed_at=clock.now(),
    )
    still = {gap["id"] for gap in reads.open_gaps(conn, report.user_id)}
    return sorted(before - still)
