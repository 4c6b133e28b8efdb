"""One import run's batches: which records need a row, which API play each one is, where its row
goes, and the batch's writes (docs/import-history.md has the decisions and their reasons).

Per record, before any query (``screen``): podcasts, private sessions, copies of private plays and
duplicates inside the export are counted and dropped. Per batch (``flush``, one transaction), per
time cluster: the warehouse plays around it are read once, then

1. **match API plays**: records paired with the API plays they are (enriched, not inserted);
2. **assign slots**: every other record gets its row's ``played_at`` (or finds its own row of an
   earlier run);
3. **drop copies** (account data): a record that is a copy of a play an extended file gave;
   **upgrade minute rows** (extended): account-data rows of an earlier import that these records
   describe are moved to the record's slot or, when the record is an API play, deleted;
4. **write**: the new rows, the upgrades, the replaced rows and the enrichment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import Connection
from sqlalchemy.engine import Engine

from ..clock import Clock
from ..errors import MalformedRecord
from ..exports.formats import ExportFormat, ExportRecord, RecordKind
from ..exports.limits import MAX_TEXT_CHARS
from ..exports.matching import (
    MINUTE,
    NAME_SLACK,
    Candidate,
    Match,
    match_by_names,
    match_by_track_id,
    match_minute_rows,
    name_key,
)
from ..exports.report import ImportReport
from ..settings import Settings
from ..warehouse import export_plays
from ..warehouse.export_plays import ENRICH_COLUMNS, NAME_COLUMNS
from .import_private import PrivatePlays, remove_private_rows, store_private
from .import_resolve import Resolver, TrackIds
from .import_slots import MAX_COLLISIONS, STEPS, PlaysByTime, clusters, enrichment, identity, own_row

#: The row columns whose every value is an ExportRecord field the reader has already checked against
#: ``exports/limits.py`` (``formats._check_bounds`` and ``_ms_played``; each bound is at most its
#: column's: ``tests/exports/test_limits.py``): the insert checks the other columns only. The
#: checks happen once, before the write: a record outside them never becomes a row.
READER_CHECKED = frozenset({*MAX_TEXT_CHARS, "ms_played"})


class Slot(NamedTuple):
    """A record that gets a row: its ``played_at``, and whether that row is already stored."""

    record: ExportRecord
    played_at: datetime
    exists: bool


@dataclass
class _ClusterWrites:
    """What one cluster changes besides its new rows."""

    enrich: list[dict[str, Any]] = field(default_factory=list)  # API plays matched: export columns
    stale: list[datetime] = field(default_factory=list)  # export rows that are second copies: deleted
    upgrades: list[dict[str, Any]] = field(default_factory=list)  # account rows an extended record describes
    # Extended records matched to an API play whose account-data row an earlier import may have
    # stored (before the API play was loaded): that row is then a second copy of the play.
    bridged: list[ExportRecord] = field(default_factory=list)


@dataclass
class BatchImporter:
    settings: Settings
    report: ImportReport
    resolver: Resolver | None
    clock: Clock
    # Identities (``import_slots.identity``) of the records kept so far: duplicates in the export.
    seen_identities: set[int] = field(default_factory=set)
    # played_at given to the rows of extended / account records this run.
    extended_slots: set[datetime] = field(default_factory=set)
    account_slots: set[datetime] = field(default_factory=set)
    # Warehouse plays matched by extended / account records this run.
    extended_claims: set[datetime] = field(default_factory=set)
    account_claims: set[datetime] = field(default_factory=set)
    private: PrivatePlays = field(default_factory=PrivatePlays)
    # Normalised (show, episode) of every podcast record seen: a legacy StreamingHistoryN row with
    # these names is that episode, not a song (legacy files mix both under artistName/trackName).
    episodes: set[tuple[str, str]] = field(default_factory=set)
    track_ids: TrackIds | None = None
    # One stamp per batch (its transaction), read from the clock once: the writer then converts one
    # datetime object per batch instead of one per row (profiled: 5 % of an extended import).
    batch_loaded_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.track_ids is None:
            self.track_ids = TrackIds(self.report, self.resolver)

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
            self.private.note(rec)
            return False
        if rec.format.is_account and self.private.is_copy(rec):
            self.report.incognito += 1
            return False
        record_identity = hash(identity(rec))
        if record_identity in self.seen_identities:
            self.report.duplicates_in_export += 1
            return False
        self.seen_identities.add(record_identity)
        return True

    def load_private(self, conn: Connection) -> None:
        """The private-session plays of earlier imports (for this run's account-data files)."""
        self.private.load(conn, self.report.user_id)

    # --- per batch ---------------------------------------------------------------------------------

    def flush(self, engine: Engine, batch: list[ExportRecord], fmt: ExportFormat) -> None:
        """Write one batch (and the private records met since the last one) in one transaction."""
        private = self.private.take_pending()
        if not batch and not private:
            return
        batch.sort(key=lambda rec: (rec.ended_at, rec.source, rec.index))
        self.batch_loaded_at = self.clock.now()
        with engine.begin() as conn:
            export_plays.prepare_batch(conn)
            for cluster in clusters(batch):
                self._import_cluster(conn, cluster, fmt.is_account)
            if private:
                remove_private_rows(
                    conn, self.report, sorted(private, key=lambda rec: rec.ended_at), self.account_slots
                )
                store_private(conn, self.report, private)

    def _import_cluster(self, conn: Connection, records: list[ExportRecord], account: bool) -> None:
        plays = self._plays_around(conn, records)
        by_time = PlaysByTime({play.played_at: play for play in plays})
        writes = _ClusterWrites()
        matched = self._match_api_plays(records, plays, by_time, account, writes)
        slots = self._assign_slots(records, matched, by_time, account)
        if account:
            slots = self._drop_copies(plays, slots)
        else:
            slots = self._upgrade_minute_rows(plays, slots, writes)
        rows = self._new_rows(conn, slots, by_time)
        self._write(conn, rows, writes)

    @property
    def _tolerance(self) -> timedelta:
        return timedelta(seconds=self.settings.export_match_tolerance_seconds)

    def _plays_around(self, conn: Connection, records: list[ExportRecord]) -> list[Candidate]:
        """The warehouse plays a record of this (time-ordered) cluster could be or collide with."""
        reach = max(self._tolerance, MINUTE + NAME_SLACK) + timedelta(seconds=1)
        stored = export_plays.plays_between(
            conn, self.report.user_id, records[0].ended_at - reach, records[-1].ended_at + reach
        )
        return [Candidate(*play) for play in stored]

    # --- 1. match API plays -------------------------------------------------------------------------

    def _match_api_plays(
        self,
        records: list[ExportRecord],
        plays: list[Candidate],
        by_time: PlaysByTime,
        account: bool,
        writes: _ClusterWrites,
    ) -> set[int]:
        """Pair records with the API plays they are; return the indexes of the records matched."""
        api = [play for play in plays if play.source == "api"]
        matches: list[Match]
        if account:
            # An API play an extended record of this import already took may still be this account
            # record's play: then the record is a copy of that extended record (below).
            matches = match_by_names(records, api, self.account_claims)
        else:
            matches = match_by_track_id(records, api, self._tolerance, self.extended_claims)
        slots = self.account_slots if account else self.extended_slots
        for match in matches:
            rec = records[match.record]
            if account:
                self.account_claims.add(match.play.played_at)
                if match.play.played_at in self.extended_claims:
                    self.report.duplicates_in_export += 1
                    continue
            else:
                self.extended_claims.add(match.play.played_at)
            self.report.duplicates_of_api += 1
            if not account:
                self.report.add_offset(match.offset_s)
            writes.enrich.append(enrichment(rec, match.play.played_at, account, self.report.import_id))
            own = own_row(rec, by_time, self.account_slots, self.extended_slots)
            if own is not None:  # inserted by an earlier import, before the API play was loaded
                writes.stale.append(own)
                slots.add(own)  # no other record of this run may take it as its own row
            elif not account:
                writes.bridged.append(rec)
        return {match.record for match in matches}

    # --- 2. assign slots ----------------------------------------------------------------------------

    def _assign_slots(
        self, records: list[ExportRecord], matched: set[int], by_time: PlaysByTime, account: bool
    ) -> list[Slot]:
        """Unmatched records: too short, else the row they are (or already were) in the warehouse."""
        slots: list[Slot] = []
        for i, rec in enumerate(records):
            if i in matched:
                continue
            if rec.too_short:
                self.report.too_short += 1
                continue
            try:
                slots.append(self._slot(rec, by_time, account))
            except MalformedRecord as bad:
                self.report.add_malformed(bad.source, bad.index, bad.reason)
        return slots

    def _slot(self, rec: ExportRecord, by_time: PlaysByTime, account: bool) -> Slot:
        """The played_at this record's row has: its end time, pushed by 1 ms past rows of other
        plays that end in the same second (minute). Deterministic for the same export, so a re-run
        finds its own rows."""
        given = self.account_slots if account else self.extended_slots
        # Its own row first, wherever in the 10 ms it landed: the neighbours that pushed it there may
        # have been replaced or upgraded since, so the first free slot is not always where it is.
        own = own_row(rec, by_time, self.account_slots, self.extended_slots)
        if own is not None:
            given.add(own)
            return Slot(rec, own, True)
        for step in STEPS:
            at = rec.ended_at + step
            if at in by_time or at in self.account_slots or at in self.extended_slots:
                continue
            given.add(at)
            return Slot(rec, at, False)
        raise MalformedRecord(
            rec.source, rec.index, f"{MAX_COLLISIONS} other plays end at {rec.ended_at.isoformat()}"
        )

    # --- 3. drop copies, upgrade minute rows -----------------------------------------------------------

    def _drop_copies(self, plays: list[Candidate], slots: list[Slot]) -> list[Slot]:
        """Account records that are copies of a play an extended file gave (both packages imported):
        same names, same minute. Account rows already in the warehouse are these records, imported
        before: not copies."""
        extended_rows = [
            play
            for play in plays
            if play.source == "export"
            and not play.minute_precision
            and play.played_at not in self.account_slots
        ]
        new = [slot for slot in slots if not slot.exists]
        copies = match_by_names([slot.record for slot in new], extended_rows, self.account_claims)
        self.account_claims.update(match.play.played_at for match in copies)
        self.report.duplicates_in_export += len(copies)
        copied = {id(new[match.record].record) for match in copies}
        return [slot for slot in slots if id(slot.record) not in copied]

    def _upgrade_minute_rows(
        self, plays: list[Candidate], slots: list[Slot], writes: _ClusterWrites
    ) -> list[Slot]:
        """Account data imported in an earlier run, the extended package now: the same plays must
        not be stored twice. Each account-data row (minute precision) is paired one-to-one with an
        extended record of the same track in its minute. If the record's play is an API play, the
        row is a second copy: deleted. Otherwise the row *is* the record's play: moved to the slot
        the record was given and filled with its id, exact time and columns (counted imported, not
        new). Returns ``slots`` with the upgraded records marked as already there."""
        minute_rows = [
            play for play in plays if play.minute_precision and play.played_at not in self.account_slots
        ]
        if not minute_rows:
            return slots
        new = [slot for slot in slots if not slot.exists]
        bridged = writes.bridged
        found = match_minute_rows(bridged + [slot.record for slot in new], minute_rows)
        upgraded: set[int] = set()
        for match in found:
            if match.record < len(bridged):
                writes.stale.append(match.play.played_at)
                continue
            slot = new[match.record - len(bridged)]
            writes.upgrades.append(self._upgrade(slot.record, match.play, slot.played_at))
            upgraded.add(id(slot.record))
        self.report.export_rows_upgraded += len(writes.upgrades)
        return [slot._replace(exists=slot.exists or id(slot.record) in upgraded) for slot in slots]

    def _upgrade(self, rec: ExportRecord, row: Candidate, at: datetime) -> dict[str, Any]:
        values = {
            "b_" + c: getattr(rec, c) for c in (*ENRICH_COLUMNS, *NAME_COLUMNS, "track_id", "started_at")
        }
        values.update(b_old=row.played_at, b_played_at=at, b_import_id=self.report.import_id,
                      b_loaded_at=self.clock.now())  # fmt: skip
        return values

    # --- 4. write ----------------------------------------------------------------------------------

    def _new_rows(self, conn: Connection, slots: list[Slot], by_time: PlaysByTime) -> list[dict[str, Any]]:
        """Count every slotted record imported; the rows of those not stored yet."""
        rows: list[dict[str, Any]] = []
        for rec, at, exists in slots:
            self.report.imported += 1
            if not exists:
                rows.append(self._row(conn, rec, at))
            if rec.format is ExportFormat.ACCOUNT_LEGACY:
                track_id = rows[-1]["track_id"] if not exists else by_time[at].track_id
                self.report.legacy_unclassified += track_id is None
        return rows

    def _row(self, conn: Connection, rec: ExportRecord, played_at: datetime) -> dict[str, Any]:
        track_id = rec.track_id
        if track_id is None and rec.format.is_account:
            assert self.track_ids is not None
            track_id = self.track_ids.resolve(conn, rec)
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

    def _write(self, conn: Connection, rows: list[dict[str, Any]], writes: _ClusterWrites) -> None:
        user = self.report.user_id
        if writes.stale:
            self.report.export_rows_replaced += export_plays.delete_export_rows(conn, user, writes.stale)
        # Each upgraded row moves to the slot its record was given: free of every existing and new
        # row, so these updates and the inserts below cannot collide whatever their order.
        export_plays.upgrade_export_rows(conn, user, writes.upgrades)
        self.report.imported_new += export_plays.insert_export_plays(conn, rows, checked=READER_CHECKED)
        if writes.enrich:
            export_plays.enrich_api_plays(conn, user, writes.enrich)
            self.report.api_plays_enriched += len(writes.enrich)
