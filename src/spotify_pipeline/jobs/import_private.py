"""Private-session plays in an import (docs/import-history.md, "Private sessions").

Extended files flag a private-session stream (``incognito``); the account-data package has no such
flag, so its copies of those plays are recognised by the names and end time the extended files
gave: this run's, and earlier runs' (kept in ``private_plays`` as a digest of the names and the
end, never the names). Account-data rows an earlier run stored for a play now known private are
removed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Connection

from ..exports.formats import ExportRecord
from ..exports.matching import MINUTE, NAME_SLACK, Candidate, match_minute_rows
from ..exports.report import ImportReport
from ..warehouse import export_plays
from .import_slots import clusters, names_digest


@dataclass
class PrivatePlays:
    # End times of the private-session plays by ``names_digest``: those of earlier imports
    # (``load``) and this run's extended files.
    times: dict[str, list[datetime]] = field(default_factory=dict)
    # Private-session records of the current batch, written with it (``take_pending``).
    pending: list[ExportRecord] = field(default_factory=list)

    def note(self, rec: ExportRecord) -> None:
        """A private-session record of an extended file: remembered for account data, written
        with the batch."""
        digest = names_digest(rec)
        if digest is not None:
            self._add(digest, rec.ended_at)
        self.pending.append(rec)

    def take_pending(self) -> list[ExportRecord]:
        pending, self.pending = self.pending, []
        return pending

    def _add(self, digest: str, ended_at: datetime) -> None:
        times = self.times.setdefault(digest, [])
        # The same play listed again (an export imported twice, a record repeated) is one play:
        # it accounts for one account-data row, as the table's key keeps it once.
        if ended_at not in times:
            times.append(ended_at)

    def is_copy(self, rec: ExportRecord) -> bool:
        """Whether this account-data record is a private play's copy (each play accounts for one)."""
        if not self.times:
            return False
        digest = names_digest(rec)
        times = self.times.get(digest) if digest is not None else None
        if not times:
            return False
        inside = [t for t in times if rec.ended_at - NAME_SLACK <= t < rec.ended_at + MINUTE + NAME_SLACK]
        if not inside:
            return False
        # One account record per private play; the earliest, so the pairing does not depend on
        # whether the play was listed by this run's extended files or by an earlier run's.
        times.remove(min(inside))
        return True

    def load(self, conn: Connection, user_id: str) -> None:
        """The private-session plays earlier extended imports skipped, for the account-data files
        of this run. One (digest, time) per private play of the user: small next to the export
        itself, and read only when the run has account-data files."""
        for digest, ended_at in export_plays.private_plays(conn, user_id):
            self._add(digest, ended_at)


def store_private(conn: Connection, report: ImportReport, private: list[ExportRecord]) -> None:
    """Remember this batch's private-session plays (in its transaction) for account-data files
    imported in a later run: without it their rows would be kept as plays. Only the end and a
    digest of the names, never the names."""
    digests = [(names_digest(rec), rec.ended_at) for rec in private]
    kept = [(digest, ended_at) for digest, ended_at in digests if digest is not None]
    export_plays.store_private_plays(conn, report.user_id, report.import_id, kept)


def remove_private_rows(
    conn: Connection, report: ImportReport, private: list[ExportRecord], account_slots: set[datetime]
) -> None:
    """Delete the account-data rows of an earlier run that are private-session plays, as the
    extended records now show: the account package has no flag, the user's choice still holds.
    ``private`` is in time order; rows this run gave account records (``account_slots``) stay."""
    reach = MINUTE + NAME_SLACK + timedelta(seconds=1)
    gone: list[datetime] = []
    for cluster in clusters(private):
        stored = export_plays.plays_between(
            conn,
            report.user_id,
            cluster[0].ended_at - reach,
            cluster[-1].ended_at + reach,
            minute_precision_only=True,
        )
        rows = [Candidate(*play) for play in stored]
        minute_rows = [row for row in rows if row.minute_precision and row.played_at not in account_slots]
        gone.extend(match.play.played_at for match in match_minute_rows(cluster, minute_rows))
    if gone:
        report.private_rows_removed += export_plays.delete_export_rows(conn, report.user_id, gone)
