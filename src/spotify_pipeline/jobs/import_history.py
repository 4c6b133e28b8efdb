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

import hashlib
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, select, update
from sqlalchemy.engine import Engine

from ..clock import Clock, SystemClock
from ..errors import MalformedRecord, PipelineError
from ..exports.formats import EmptyRecord, ExportFormat, ExportRecord, RecordKind
from ..exports.limits import FUTURE_MARGIN
from ..exports.matching import (
    MINUTE,
    NAME_SLACK,
    Candidate,
    match_by_names,
    match_by_track_id,
    match_minute_rows,
    name_key,
)
from ..exports.reader import Discovered, ExportReadError, FileReader, Sniffed, discover, sniff
from ..exports.report import FILE_PARTIAL, FileSummary, ImportReport
from ..landing.store import RawStore
from ..settings import Settings
from .import_archive import ArchivedExport, archive_files
from .import_records import record_import
from .import_runs import ImportFailed, ImportInterrupted, close_abandoned_runs, finish_run, one_line
from .progress import ProgressFn

log = logging.getLogger(__name__)

__all__ = ["ImportFailed", "ImportInterrupted", "import_history"]

BATCH = 5_000
# Records further apart than this are fetched by separate range queries (an unordered endsong file
# would otherwise fetch years of plays for every batch).
CLUSTER_SPLIT = timedelta(hours=6)
# How many same-millisecond neighbours a played_at may be pushed by before we give up (two distinct
# plays ending in the same second are already rare; ten is a broken export).
MAX_COLLISIONS = 10
_STEPS = tuple(timedelta(milliseconds=j) for j in range(MAX_COLLISIONS))
_NAME_COLUMNS = ("track_name", "artist_name", "album_name")
ENRICH_COLUMNS = (
    "ms_played", "reason_start", "reason_end", "shuffle", "skipped", "offline", "incognito", "platform", "country",
)  # fmt: skip

Resolver = Callable[[str, str], "str | None"]
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
        from .runtime import migrated_engine

        engine = migrated_engine(settings.warehouse_url.get_secret_value())
    if store is None:
        from ..landing.store import open_store

        store = open_store(settings, clock)
    report, ordered, files_found = _survey(settings, path, store)
    started_at = clock.now()
    if not isinstance(path, ArchivedExport):
        # The record rebuild replays, write-once in the raw zone next to the archived files.
        record_import(store, settings, report, started_at)

    from ..warehouse import writes

    with engine.begin() as conn:
        close_abandoned_runs(conn, settings.user, started_at)
        report.import_id = writes.start_import_run(conn, settings.user, report.source[:1024], started_at)
    try:
        _read_all(settings, report, ordered, engine, clock, progress, resolver)
        report.status = report.outcome()
        with engine.begin() as conn:
            # A file not read to its end may hide plays inside a gap: then no gap is closed.
            if not report.files_lost and report.first_play is not None and report.last_play is not None:
                report.gaps_closed = _close_gaps(conn, report, clock)
            report.gaps_open = len(writes.open_gaps(conn, settings.user))
        report.check(files_found)
    except KeyboardInterrupt:
        finish_run(engine, report, clock, "interrupted", f"interrupted after {report.records_read} records")
        raise ImportInterrupted(report.records_read, report.import_id) from None
    except BaseException as exc:
        why = str(exc) if isinstance(exc, PipelineError) else one_line(exc)
        finish_run(engine, report, clock, "failed", why)
        if isinstance(exc, PipelineError) or not isinstance(exc, Exception):
            raise
        log.debug("import %s failed", report.import_id, exc_info=True)
        raise ImportFailed(
            f"import {report.import_id} failed after {report.records_read:,} records ({why}); the batch being "
            "written was rolled back and every earlier one is in: run it again (what is in is recognised)"
        ) from exc
    finish_run(engine, report, clock, report.status, report.error)
    log.info(
        "import %s: %s", report.import_id, {k: v for k, v in report.to_dict().items() if isinstance(v, int)}
    )
    return report


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
    sniffed = [sniff(f) for f in found.files]
    for s in sniffed:
        if s.status == "unknown":
            report.unknown_files.append((s.file.name, s.problem or "not a streaming history"))
        elif s.status == "unreadable":
            report.unreadable_files.append((s.file.name, s.problem or "could not be read"))
    ordered = _plan(sniffed)
    # Archived before the run is recorded: an import that could not keep its files imports nothing.
    if replay is not None:
        report.archived = list(replay.files)
        return report, ordered, files_found
    report.archived = []
    kept: list[Sniffed] = []
    for s in ordered:
        # File by file: one damaged zip member (a bad CRC past the part sniff read) is unreadable,
        # named in the report, and the others import. A raw zone that cannot be written (StoreError)
        # still stops the import before anything is recorded.
        try:
            report.archived += archive_files(store, settings.user, [s.file])
        except ExportReadError as exc:
            detail = str(exc).removeprefix(f"{s.file.name}: ").replace("; nothing was imported", "")
            report.unreadable_files.append((s.file.name, detail))
            continue
        kept.append(s)
    return report, kept, files_found


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
    run = _Run(settings, report, resolver, clock)
    if any(s.format is not None and s.format.is_account for s in ordered):
        with engine.connect() as conn:
            run.load_private(conn)
    # A stream ending after the host's clock (plus skew) is a broken time, not a play.
    not_after = clock.now() + FUTURE_MARGIN
    for number, s in enumerate(ordered, 1):
        assert s.format is not None
        label = f"importing {s.file.name.rsplit('/', 1)[-1]} ({number}/{len(ordered)} files)"
        summary = FileSummary(s.file.name, s.format.value)
        report.files.append(summary)
        batch: list[ExportRecord] = []
        reader = FileReader(s.file, s.format, not_after)
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
            if run.screen(item):
                batch.append(item)
                if len(batch) >= BATCH:
                    run.flush(engine, batch, s.format)
                    batch = []
        run.flush(engine, batch, s.format)
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
    known = [s for s in sniffed if s.format is not None]
    return sorted(known, key=lambda s: (_ORDER[s.format], _natural(s.file.name)))  # type: ignore[index]


def _natural(name: str) -> tuple[Any, ...]:
    import re

    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name))


def _close_gaps(conn: Connection, report: ImportReport, clock: Clock) -> list[int]:
    from ..warehouse import writes

    assert report.first_play is not None and report.last_play is not None
    # Account data has minute precision: the export covers up to the end of its last minute.
    end = report.last_play + MINUTE
    before = {g["id"] for g in writes.open_gaps(conn, report.user_id)}
    writes.close_gaps_covered(
        conn, report.user_id, report.first_play, end, f"import:{report.import_id}", clock.now()
    )
    still = {g["id"] for g in writes.open_gaps(conn, report.user_id)}
    return sorted(before - still)


@dataclass
class _Run:
    settings: Settings
    report: ImportReport
    resolver: Resolver | None
    clock: Clock
    seen: set[int] = field(
        default_factory=set
    )  # identities of records kept so far (duplicates in the export)
    assigned_ext: set[datetime] = field(default_factory=set)  # played_at given to extended rows this run
    assigned_acc: set[datetime] = field(default_factory=set)  # ... and to account rows
    claimed: set[datetime] = field(default_factory=set)  # plays matched by extended records this run
    claimed_acc: set[datetime] = field(default_factory=set)  # ... and by account records
    # End times of the private-session plays the extended files listed, by ``_names_digest``: the
    # account-data package has no incognito flag, so its copies of those plays are recognised here.
    # Those of earlier imports come from ``private_plays`` (``load_private``), this run's from its
    # extended files (and are stored there for the next runs).
    private: dict[str, list[datetime]] = field(default_factory=dict)
    # Normalised (show, episode) of every podcast record seen: a legacy StreamingHistoryN row with
    # these names is that episode, not a song (legacy files mix both under artistName/trackName).
    episodes: set[tuple[str, str]] = field(default_factory=set)
    # Private-session records of the current batch: an account-data import of an earlier run (no
    # incognito flag there) may have stored their plays, which are then removed.
    private_pending: list[ExportRecord] = field(default_factory=list)
    local_ids: dict[tuple[str, str], str] | None = None
    search_cache: dict[tuple[str, str], str | None] = field(default_factory=dict)
    # One stamp per batch (its transaction), read from the clock once: the writer then converts one
    # datetime object per batch instead of one per row (profiled: 5 % of an extended import).
    batch_loaded_at: datetime | None = None

    # --- per record, before any query ------------------------------------------------------------

    def screen(self, rec: ExportRecord) -> bool:
        """Count the records that need no warehouse look-up; True for those that go to a batch."""
        if rec.kind is not RecordKind.MUSIC:
            self.report.podcasts_audiobooks += 1
            if rec.kind is RecordKind.PODCAST:
                self.episodes.add(name_key(rec.artist_name, rec.track_name))
            return False
        if (
            self.episodes
            and rec.format is ExportFormat.ACCOUNT_LEGACY
            and name_key(rec.artist_name, rec.track_name) in self.episodes
        ):
            self.report.podcasts_audiobooks += 1
            self.report.legacy_podcasts += 1
            return False
        if rec.incognito:
            self.report.incognito += 1
            digest = _names_digest(rec)
            if digest is not None:
                self._add_private(digest, rec.ended_at)
            self.private_pending.append(rec)
            return False
        if rec.format.is_account and self._private_copy(rec):
            self.report.incognito += 1
            return False
        identity = hash(_identity(rec))
        if identity in self.seen:
            self.report.duplicates_in_export += 1
            return False
        self.seen.add(identity)
        return True

    def _add_private(self, digest: str, ended_at: datetime) -> None:
        times = self.private.setdefault(digest, [])
        # The same play listed again (an export imported twice, a record repeated) is one play:
        # it accounts for one account-data row, as the table's key keeps it once.
        if ended_at not in times:
            times.append(ended_at)

    def _private_copy(self, rec: ExportRecord) -> bool:
        if not self.private:
            return False
        digest = _names_digest(rec)
        times = self.private.get(digest) if digest is not None else None
        if not times:
            return False
        inside = [t for t in times if rec.ended_at - NAME_SLACK <= t < rec.ended_at + MINUTE + NAME_SLACK]
        if not inside:
            return False
        # One account record per private play; the earliest, so the pairing does not depend on
        # whether the play was listed by this run's extended files or by an earlier run's.
        times.remove(min(inside))
        return True

    def load_private(self, conn: Connection) -> None:
        """The private-session plays earlier extended imports skipped (``private_plays``), for the
        account-data files of this run. One (digest, time) per private play of the user: small
        next to the export itself, and read only when the run has account-data files."""
        from ..warehouse import schema as s

        pp = s.private_plays
        query = (
            select(pp.c.names_sha256, pp.c.ended_at)
            .where(pp.c.user_id == self.report.user_id)
            .order_by(pp.c.ended_at, pp.c.names_sha256)
        )
        for digest, ended_at in conn.execute(query):
            self._add_private(digest, ended_at)

    # --- per batch ---------------------------------------------------------------------------------

    def flush(self, engine: Engine, batch: list[ExportRecord], fmt: ExportFormat) -> None:
        private, self.private_pending = self.private_pending, []
        if not batch and not private:
            return
        batch.sort(key=lambda r: (r.ended_at, r.source, r.index))
        self.batch_loaded_at = self.clock.now()
        with engine.begin() as conn:
            for cluster in _clusters(batch):
                self._cluster(conn, cluster, fmt.is_account)
            if private:
                self._remove_private_rows(conn, sorted(private, key=lambda r: r.ended_at))
                self._store_private(conn, private)

    def _store_private(self, conn: Connection, private: list[ExportRecord]) -> None:
        """Remember this batch's private-session plays (in its transaction) for account-data files
        imported in a later run: without it their rows would be kept as plays (docs/import-history.md,
        "Private sessions"). Only the end and a digest of the names, never the names."""
        from ..warehouse import schema as s
        from ..warehouse.upsert import insert_ignore

        rows = []
        for rec in private:
            digest = _names_digest(rec)
            if digest is not None:
                rows.append(
                    {"user_id": self.report.user_id, "ended_at": rec.ended_at, "names_sha256": digest,
                     "import_id": self.report.import_id}
                )  # fmt: skip
        if rows:
            insert_ignore(conn, s.private_plays, rows)

    def _remove_private_rows(self, conn: Connection, private: list[ExportRecord]) -> None:
        """Delete the account-data rows of an earlier run that are private-session plays, as the
        extended records now show: the account package has no flag, the user's choice still holds."""
        from ..warehouse import schema as s

        reach = MINUTE + NAME_SLACK + timedelta(seconds=1)
        gone: list[datetime] = []
        for cluster in _clusters(private):
            rows = _plays_between(
                conn,
                self.report.user_id,
                cluster[0].ended_at - reach,
                cluster[-1].ended_at + reach,
                minute_precision_only=True,
            )
            minute_rows = [p for p in rows if p.minute_precision and p.played_at not in self.assigned_acc]
            gone.extend(m.play.played_at for m in match_minute_rows(cluster, minute_rows))
        if gone:
            p = s.plays
            result = conn.execute(
                delete(p).where(
                    p.c.user_id == self.report.user_id, p.c.source == "export", p.c.played_at.in_(gone)
                )
            )
            self.report.private_rows_removed += int(result.rowcount)

    def _cluster(self, conn: Connection, records: list[ExportRecord], account: bool) -> None:
        tol = timedelta(seconds=self.settings.export_match_tolerance_seconds)
        reach = max(tol, MINUTE + NAME_SLACK) + timedelta(seconds=1)
        plays = _plays_between(
            conn, self.report.user_id, records[0].ended_at - reach, records[-1].ended_at + reach
        )
        api = [p for p in plays if p.source == "api"]
        by_time = _ByTime({p.played_at: p for p in plays})
        if account:
            # An API play an extended record of this import already took may still be this account
            # record's play: then the record is a copy of that extended record (below).
            matches = match_by_names(records, api, self.claimed_acc)
        else:
            matches = match_by_track_id(records, api, tol, self.claimed)
        matched = {m.record for m in matches}
        enrich: list[dict[str, Any]] = []
        stale: list[datetime] = []
        # Extended records matched to an API play whose account-data row an earlier import may have
        # stored (before the API play was loaded): that row is then a second copy of the play.
        bridged: list[ExportRecord] = []
        assigned = self.assigned_acc if account else self.assigned_ext
        for m in matches:
            rec = records[m.record]
            if account:
                self.claimed_acc.add(m.play.played_at)
                if m.play.played_at in self.claimed:
                    self.report.duplicates_in_export += 1
                    continue
            else:
                self.claimed.add(m.play.played_at)
            self.report.duplicates_of_api += 1
            if not account:
                self.report.add_offset(m.offset_s)
            enrich.append(_enrichment(rec, m.play.played_at, account, self.report.import_id))
            own = _own_row(rec, by_time, self.assigned_acc, self.assigned_ext)
            if own is not None:  # inserted by an earlier import, before the API play was loaded
                stale.append(own)
                assigned.add(own)  # no other record of this run may take it as its own row
            elif not account:
                bridged.append(rec)
        # Unmatched records: too short, else the row they are (or already were) in the warehouse.
        slotted: list[tuple[ExportRecord, datetime, bool]] = []
        for i, rec in enumerate(records):
            if i in matched:
                continue
            if rec.too_short:
                self.report.too_short += 1
                continue
            try:
                at, exists = self._played_at(rec, by_time, account)
            except MalformedRecord as bad:
                self.report.add_malformed(bad.source, bad.index, bad.reason)
                continue
            slotted.append((rec, at, exists))
        if account:
            # A copy of a play an extended file gave (both packages imported): same names, same minute.
            # Account rows already in the warehouse are these records, imported before: not copies.
            exports = [
                p
                for p in plays
                if p.source == "export" and not p.minute_precision and p.played_at not in self.assigned_acc
            ]
            new = [(rec, at) for rec, at, exists in slotted if not exists]
            copies = match_by_names([r for r, _ in new], exports, self.claimed_acc)
            self.claimed_acc.update(m.play.played_at for m in copies)
            self.report.duplicates_in_export += len(copies)
            copied = {id(new[m.record][0]) for m in copies}
            slotted = [item for item in slotted if id(item[0]) not in copied]
        upgrades: list[dict[str, Any]] = []
        if not account:
            slotted = self._upgrade_minute_rows(plays, bridged, slotted, stale, upgrades)
        rows: list[dict[str, Any]] = []
        for rec, at, exists in slotted:
            self.report.imported += 1
            if not exists:
                rows.append(self._row(conn, rec, at))
            if rec.format is ExportFormat.ACCOUNT_LEGACY:
                track_id = rows[-1]["track_id"] if not exists else by_time[at].track_id
                self.report.legacy_unclassified += track_id is None
        self._write(conn, rows, enrich, stale, upgrades)

    def _upgrade_minute_rows(
        self,
        plays: list[Candidate],
        bridged: list[ExportRecord],
        slotted: list[tuple[ExportRecord, datetime, bool]],
        stale: list[datetime],
        upgrades: list[dict[str, Any]],
    ) -> list[tuple[ExportRecord, datetime, bool]]:
        """Account data imported in an earlier run, the extended package now: the same plays must
        not be stored twice. Each account-data row (minute precision) is paired one-to-one with an
        extended record of the same track in its minute. If the record's play is an API play, the
        row is a second copy: deleted. Otherwise the row *is* the record's play: moved to the slot
        the record was given and filled with its id, exact time and columns (counted imported, not
        new). Returns ``slotted`` with the upgraded records marked as already there."""
        rows = [p for p in plays if p.minute_precision and p.played_at not in self.assigned_acc]
        if not rows:
            return slotted
        new = [(rec, at) for rec, at, exists in slotted if not exists]
        found = match_minute_rows(bridged + [rec for rec, _ in new], rows)
        upgraded: set[int] = set()
        for m in found:
            if m.record < len(bridged):
                stale.append(m.play.played_at)
                continue
            rec, at = new[m.record - len(bridged)]
            upgrades.append(self._upgrade(rec, m.play, at))
            upgraded.add(id(rec))
        self.report.export_rows_upgraded += len(upgrades)
        return [(rec, at, exists or id(rec) in upgraded) for rec, at, exists in slotted]

    def _upgrade(self, rec: ExportRecord, row: Candidate, at: datetime) -> dict[str, Any]:
        values = {
            "b_" + c: getattr(rec, c) for c in (*ENRICH_COLUMNS, *_NAME_COLUMNS, "track_id", "started_at")
        }
        values.update(b_old=row.played_at, b_played_at=at, b_import_id=self.report.import_id,
                      b_loaded_at=self.clock.now())  # fmt: skip
        return values

    def _played_at(
        self, rec: ExportRecord, by_time: dict[datetime, Candidate], account: bool
    ) -> tuple[datetime, bool]:
        """The played_at this record's row has: its end time, pushed by 1 ms past rows of other
        plays that end in the same second (minute). Deterministic for the same export, so a re-run
        finds its own rows. Returns (played_at, already in the warehouse)."""
        assigned = self.assigned_acc if account else self.assigned_ext
        # Its own row first, wherever in the 10 ms it landed: the neighbours that pushed it there may
        # have been replaced or upgraded since, so the first free slot is not always where it is.
        own = _own_row(rec, by_time, self.assigned_acc, self.assigned_ext)
        if own is not None:
            assigned.add(own)
            return own, True
        for step in _STEPS:
            at = rec.ended_at + step
            if at in by_time or at in self.assigned_acc or at in self.assigned_ext:
                continue
            assigned.add(at)
            return at, False
        raise MalformedRecord(
            rec.source, rec.index, f"{MAX_COLLISIONS} other plays end at {rec.ended_at.isoformat()}"
        )

    def _row(self, conn: Connection, rec: ExportRecord, played_at: datetime) -> dict[str, Any]:
        track_id = rec.track_id
        if track_id is None and rec.format.is_account:
            track_id = self._resolve(conn, rec)
        return {
            "user_id": self.report.user_id,
            "played_at": played_at,
            "track_id": track_id,
            "track_name": rec.track_name,
            "artist_name": rec.artist_name,
            "album_name": rec.album_name,
            "context_type": None,
            "context_uri": None,
            "source": "export",
            "ms_played": rec.ms_played,
            "reason_start": rec.reason_start,
            "reason_end": rec.reason_end,
            "shuffle": rec.shuffle,
            "skipped": rec.skipped,
            "offline": rec.offline,
            "incognito": rec.incognito,
            "platform": rec.platform,
            "country": rec.country,
            "raw_key": None,
            "import_id": self.report.import_id,
            "loaded_at": self.batch_loaded_at or self.clock.now(),
            "matched_import_id": None,
            "started_at": rec.started_at,
        }

    def _resolve(self, conn: Connection, rec: ExportRecord) -> str | None:
        key = name_key(rec.artist_name, rec.track_name)
        if self.local_ids is None:
            self.local_ids = _known_ids(conn, self.report.user_id)
        if key in self.local_ids:
            self.report.account_resolved_locally += 1
            return self.local_ids[key]
        if self.resolver is None or self.report.resolver_stopped:
            self.report.account_unresolved += 1
            return None
        if key not in self.search_cache:
            try:
                self.search_cache[key] = self.resolver(rec.track_name or "", rec.artist_name or "")
            except PipelineError as exc:
                # A rate limit or an outage must not fail the import: the rows keep their names,
                # and a later run (or an enrichment job) can resolve them.
                self.report.resolver_stopped = f"search stopped at {rec.source} #{rec.index}: {exc}"
                self.report.account_unresolved += 1
                return None
        found = self.search_cache[key]
        if found is None:
            self.report.account_unresolved += 1
        else:
            self.report.account_resolved_by_search += 1
        return found

    def _write(
        self,
        conn: Connection,
        rows: list[dict[str, Any]],
        enrich: list[dict[str, Any]],
        stale: list[datetime],
        upgrades: list[dict[str, Any]],
    ) -> None:
        from sqlalchemy import func

        from ..warehouse import schema as s
        from ..warehouse.upsert import insert_ignore

        plays = s.plays
        user = self.report.user_id
        if stale:
            result = conn.execute(
                delete(plays).where(
                    plays.c.user_id == user, plays.c.source == "export", plays.c.played_at.in_(stale)
                )
            )
            self.report.export_rows_replaced += int(result.rowcount)
        if upgrades:
            # Each row moves to the slot _played_at gave its record: free of every existing and new
            # row, so these updates and the inserts below cannot collide whatever their order.
            kept: dict[str, Any] = {
                c: bindparam("b_" + c)
                for c in (*ENRICH_COLUMNS, "started_at", "played_at", "import_id", "loaded_at")
            }
            # Names and id from the extended record, except where it has none (local files).
            kept.update(
                {c: func.coalesce(bindparam("b_" + c), plays.c[c]) for c in (*_NAME_COLUMNS, "track_id")}
            )
            conn.execute(
                update(plays)
                .where(
                    plays.c.user_id == user,
                    plays.c.played_at == bindparam("b_old"),
                    plays.c.source == "export",
                )
                .values(kept),
                upgrades,
            )
        if rows:
            self.report.imported_new += insert_ignore(conn, plays, rows)
        if enrich:
            full = [e for e in enrich if "b_reason_start" in e]
            only_ms = [e for e in enrich if "b_reason_start" not in e]
            where = and_(
                plays.c.user_id == user,
                plays.c.played_at == bindparam("b_played_at"),
                plays.c.source == "api",
            )
            if full:
                columns = (*ENRICH_COLUMNS, "started_at", "matched_import_id")
                stmt = update(plays).where(where).values({c: bindparam("b_" + c) for c in columns})
                conn.execute(stmt, full)
            if only_ms:
                # Account data adds only ms_played, and never over what an extended record gave;
                # the first import that matched the play stays its matched_import_id.
                stmt = (
                    update(plays)
                    .where(where)
                    .values(
                        ms_played=func.coalesce(plays.c.ms_played, bindparam("b_ms_played")),
                        matched_import_id=func.coalesce(
                            plays.c.matched_import_id, bindparam("b_matched_import_id")
                        ),
                    )
                )
                conn.execute(stmt, only_ms)
            self.report.api_plays_enriched += len(enrich)


# --- helpers ---------------------------------------------------------------------------------------


def _identity(rec: ExportRecord) -> tuple[Any, ...]:
    """What makes two records the same stream. Extended: end second + track (no one plays two
    streams of one track ending in the same second). Account (minute precision): + ms played."""
    if rec.format.is_account:
        return ("a", rec.ended_at, name_key(rec.artist_name, rec.track_name), rec.ms_played)
    return ("e", rec.ended_at, rec.track_id or name_key(rec.artist_name, rec.track_name))


def _names_digest(rec: ExportRecord) -> str | None:
    """SHA-256 of the record's normalised artist + track names (``name_key``, as account rows are
    matched by): what ``private_plays`` keeps of a private play instead of its names. None when the
    record has no track name (no account-data row could be recognised by it)."""
    artist, track = name_key(rec.artist_name, rec.track_name)
    if not track:
        return None
    return hashlib.sha256(f"{artist}\x1f{track}".encode()).hexdigest()


def _is_own(rec: ExportRecord, row: Candidate) -> bool:
    """Whether ``row`` is the row an earlier import stored for this very record: an export row of
    the same precision (account rows have the minute, extended rows the second) and the same play."""
    return row.source == "export" and row.minute_precision == rec.format.is_account and _same_play(rec, row)


def _same_play(rec: ExportRecord, row: Candidate) -> bool:
    if rec.track_id is not None and row.track_id is not None and not rec.format.is_account:
        return rec.track_id == row.track_id
    return name_key(rec.artist_name, rec.track_name) == name_key(row.artist_name, row.track_name)


class _ByTime(dict[datetime, Candidate]):
    """The warehouse plays around a cluster by played_at, and the whole seconds they fall in: a
    record whose second holds none has no row of its own there (one set lookup, not ten)."""

    def __init__(self, plays: dict[datetime, Candidate]) -> None:
        super().__init__(plays)
        self.seconds = {at.replace(microsecond=0) for at in plays}


def _own_row(
    rec: ExportRecord, by_time: dict[datetime, Candidate], taken: set[datetime], taken_too: set[datetime]
) -> datetime | None:
    """The played_at of this record's own row from an earlier run, if any (not one this run gave)."""
    # A record ends on a whole second (or minute), so its ten 1-ms slots lie inside that second.
    if isinstance(by_time, _ByTime) and rec.ended_at.microsecond == 0 and rec.ended_at not in by_time.seconds:
        return None
    for step in _STEPS:
        at = rec.ended_at + step
        row = by_time.get(at)
        if row is not None and at not in taken and at not in taken_too and _is_own(rec, row):
            return at
    return None


def _enrichment(
    rec: ExportRecord, played_at: datetime, account: bool, import_id: int | None
) -> dict[str, Any]:
    if account:
        return {"b_played_at": played_at, "b_ms_played": rec.ms_played, "b_matched_import_id": import_id}
    values = {"b_" + c: getattr(rec, c) for c in ENRICH_COLUMNS}
    values.update(b_played_at=played_at, b_started_at=rec.started_at, b_matched_import_id=import_id)
    return values


def _clusters(records: list[ExportRecord]) -> Iterable[list[ExportRecord]]:
    start = 0
    for i in range(1, len(records) + 1):
        if i == len(records) or records[i].ended_at - records[i - 1].ended_at > CLUSTER_SPLIT:
            yield records[start:i]
            start = i


def _plays_between(
    conn: Connection, user_id: str, lo: datetime, hi: datetime, *, minute_precision_only: bool = False
) -> list[Candidate]:
    from ..warehouse import schema as s

    p = s.plays
    query = select(
        p.c.played_at, p.c.track_id, p.c.track_name, p.c.artist_name, p.c.source, p.c.started_at
    ).where(p.c.user_id == user_id, p.c.played_at >= lo, p.c.played_at <= hi)
    if minute_precision_only:
        # Candidate.minute_precision in SQL: a batch with private records would otherwise read back
        # every row it just wrote (profiled: 9 % of an extended import) to keep almost none.
        query = query.where(p.c.source == "export", p.c.started_at.is_(None))
    return [
        Candidate(r.played_at, r.track_id, r.track_name, r.artist_name, r.source, r.started_at)
        for r in conn.execute(query)
    ]


def _known_ids(conn: Connection, user_id: str) -> dict[tuple[str, str], str]:
    """Normalised (artist, track) -> track id, from the plays already in the warehouse: an account
    row of a song the API (or an extended file) already gave needs no search."""
    from ..warehouse import schema as s

    p = s.plays
    query = (
        select(p.c.artist_name, p.c.track_name, p.c.track_id)
        .where(p.c.user_id == user_id, p.c.track_id.is_not(None))
        .distinct()
    )
    out: dict[tuple[str, str], str] = {}
    for artist, track, track_id in conn.execute(query):
        out.setdefault(name_key(artist, track), track_id)
    return out
