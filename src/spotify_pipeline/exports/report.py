"""What an import did, in numbers that add up.

Every record read lands in exactly one bucket::

    records_read = imported + duplicates_of_api + duplicates_in_export + too_short
                   + podcasts_audiobooks + incognito + malformed

and every JSON file found is in exactly one state::

    files found = read + partial + unreadable + unknown
    records_read = sum of the records of the read and partial files

``check()`` enforces both (the job calls it before reporting success, so a miscount is a crash, not a
quietly wrong report). Buckets are decided in this order, first that applies wins: malformed,
podcast/audiobook, incognito, duplicate within the export, duplicate of an API play, too short,
imported. A short stream that *is* an API play counts as a duplicate of that play (and enriches it).
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rich.table import Table
from rich.text import Text

from ..errors import PipelineError

BUCKETS = (
    "imported",
    "duplicates_of_api",
    "duplicates_in_export",
    "too_short",
    "podcasts_audiobooks",
    "incognito",
    "malformed",
)


class ReportMismatch(PipelineError):
    """The report's buckets do not add up to the records read: a bug, never a data problem."""


#: Malformed records listed by name in the report (all are counted): the report is stored in
#: import_runs, and a file of a million broken records must not make a report of a hundred megabytes.
MAX_MALFORMED_LISTED = 1000

#: The stored report (import_runs.report) stays under this many bytes: MariaDB's TEXT holds 65,535, and
#: a write refused there would fail the run at its very end. ``to_stored_dict`` lists fewer malformed
#: records to fit; every count stays.
STORED_REPORT_BYTES = 60_000

#: What became of a recognised file: read to its end, or broken part way (the rest not read).
FILE_READ, FILE_PARTIAL = "read", "partial"


@dataclass
class FileSummary:
    name: str
    format: str
    records: int = 0
    malformed: int = 0
    status: str = FILE_READ
    problem: str | None = None  # why a partial file was not read to its end


@dataclass(frozen=True)
class ArchivedFile:
    """An export file copied into the raw zone before it was imported: ``rebuild`` reads it back."""

    name: str  # the file as the import named it (its path, or the zip's path + the member)
    key: str  # imports/<user>/<sha256>/<file name>
    size: int
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "key": self.key, "size": self.size, "sha256": self.sha256}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ArchivedFile:
        return cls(str(d["name"]), str(d["key"]), int(d["size"]), str(d["sha256"]))


@dataclass
class MalformedEntry:
    file: str
    index: int | str
    reason: str
    empty: bool = False  # Spotify's own record with nothing played (formats.EmptyRecord), not damage


@dataclass
class ImportReport:
    source: str
    user_id: str
    import_id: int | None = None
    status: str = "running"
    files: list[FileSummary] = field(default_factory=list)
    unknown_files: list[tuple[str, str]] = field(default_factory=list)
    # JSON files that could not be read at all (too large, a zip bomb, not UTF-8 text...), with why.
    unreadable_files: list[tuple[str, str]] = field(default_factory=list)
    ignored_files: list[str] = field(default_factory=list)
    # None: the import was made before export files were archived (or the copy failed the run).
    archived: list[ArchivedFile] | None = None
    records_read: int = 0
    imported: int = 0
    duplicates_of_api: int = 0
    duplicates_in_export: int = 0
    too_short: int = 0
    podcasts_audiobooks: int = 0
    incognito: int = 0
    malformed_count: int = 0  # the bucket; ``malformed`` lists the first MAX_MALFORMED_LISTED of them
    malformed: list[MalformedEntry] = field(default_factory=list)
    damaged: int = 0  # malformed records that are not Spotify's empty records (they make it partial)
    # Breakdowns of buckets above (not added into the identity):
    imported_new: int = 0  # rows this run inserted; the rest of `imported` was there from a previous run
    api_plays_enriched: int = 0
    account_resolved_locally: int = 0  # id found on a play already in the warehouse with the same names
    account_resolved_by_search: int = 0
    account_unresolved: int = 0  # kept with names only
    resolver_stopped: str | None = None
    export_rows_replaced: int = 0  # export rows of an earlier run that now match an API play
    # Account-data rows of an earlier run that an extended record of this run described: moved to
    # the exact ts, given the track id and the extended columns (counted in `imported`).
    export_rows_upgraded: int = 0
    # Account-data rows of an earlier run that extended records show were private-session plays.
    private_rows_removed: int = 0
    legacy_podcasts: int = 0  # legacy StreamingHistoryN rows named like an episode seen (in podcasts)
    # Legacy StreamingHistoryN rows kept as plays with nothing to show they are music (no track id
    # from the warehouse or search, no API or extended match): some may be podcast episodes.
    legacy_unclassified: int = 0
    offsets: dict[int, int] = field(default_factory=dict)  # whole seconds (ts - played_at) -> count
    first_play: datetime | None = None
    last_play: datetime | None = None
    gaps_closed: list[int] = field(default_factory=list)
    gaps_open: int = 0
    error: str | None = None

    # --- counting ------------------------------------------------------------------------------

    def add_malformed(self, file: str, index: int | str, reason: str, empty: bool = False) -> None:
        self.malformed_count += 1
        self.damaged += not empty
        if len(self.malformed) < MAX_MALFORMED_LISTED:
            self.malformed.append(MalformedEntry(file, index, reason, empty))

    @property
    def partial_files(self) -> list[FileSummary]:
        return [f for f in self.files if f.status != FILE_READ]

    @property
    def files_lost(self) -> bool:
        """Whether some file, or the end of one, was not read: records nobody has seen are missing."""
        return bool(self.unreadable_files or self.partial_files)

    def outcome(self) -> str:
        """ "ok", or "partial" when a file or a record (other than Spotify's empty ones) was not
        imported. The line ``why_partial`` says which."""
        return "partial" if self.files_lost or self.damaged else "ok"

    def why_partial(self) -> str:
        """One line: what was not imported and what to do (empty when nothing)."""
        parts = []
        if self.unreadable_files:
            parts.append(f"{len(self.unreadable_files)} file(s) unreadable")
        if self.partial_files:
            parts.append(f"{len(self.partial_files)} file(s) read only in part")
        if self.damaged:
            parts.append(f"{self.damaged} malformed record(s)")
        if not parts:
            return ""
        advice = (
            "download the export again (or fix the files named above) and import it again: what is already "
            "in is recognised, nothing is doubled"
            if self.files_lost
            else "those records cannot be imported as they are; everything else is in"
        )
        return f"not everything was imported: {', '.join(parts)}; {advice}"

    def add_offset(self, seconds: float) -> None:
        key = int(round(seconds))
        self.offsets[key] = self.offsets.get(key, 0) + 1

    def see_time(self, when: datetime) -> None:
        if self.first_play is None or when < self.first_play:
            self.first_play = when
        if self.last_play is None or when > self.last_play:
            self.last_play = when

    def bucket_total(self) -> int:
        return sum(self.bucket(name) for name in BUCKETS)

    def bucket(self, name: str) -> int:
        return self.malformed_count if name == "malformed" else int(getattr(self, name))

    def file_counts(self) -> dict[str, int]:
        return {
            "files_read": sum(f.status == FILE_READ for f in self.files),
            "files_partial": len(self.partial_files),
            "files_unreadable": len(self.unreadable_files),
            "files_unknown": len(self.unknown_files),
            "files_ignored": len(self.ignored_files),
        }

    def check(self, files_found: int | None = None) -> None:
        """Raise ReportMismatch unless every record read is in exactly one bucket, every record read
        belongs to a read or partial file, and (given the number of JSON files found) every file is in
        exactly one state."""
        total = self.bucket_total()
        if total != self.records_read:
            parts = " + ".join(f"{name} {self.bucket(name)}" for name in BUCKETS)
            raise ReportMismatch(
                f"import report does not add up: read {self.records_read} != {parts} = {total}"
            )
        if self.imported_new > self.imported:
            raise ReportMismatch(f"imported_new {self.imported_new} > imported {self.imported}")
        by_file = sum(f.records for f in self.files)
        if by_file != self.records_read:
            raise ReportMismatch(f"import report: files hold {by_file} records, {self.records_read} read")
        if sum(f.malformed for f in self.files) != self.malformed_count:
            raise ReportMismatch("import report: malformed records per file do not add up")
        counts = self.file_counts()
        states = (
            counts["files_read"]
            + counts["files_partial"]
            + counts["files_unreadable"]
            + counts["files_unknown"]
        )
        if files_found is not None and states != files_found:
            raise ReportMismatch(f"import report: {files_found} JSON files found, {states} accounted for")

    def to_stored_dict(self) -> dict[str, Any]:
        """``to_dict`` made to fit ``STORED_REPORT_BYTES``: fewer malformed records listed, if need be."""
        d = self.to_dict()
        listed = d["malformed_records"]
        while listed and _stored_size(d) > STORED_REPORT_BYTES:
            listed = listed[: len(listed) // 2]
            d["malformed_records"] = listed
            d["malformed_not_listed"] = self.malformed_count - len(listed)
        return d

    def offset_summary(self) -> dict[str, float | int | None]:
        """Distribution of ts - played_at over the track-id matches (to tune the tolerance)."""
        values = sorted(k for k, n in self.offsets.items() for _ in range(n))
        if not values:
            return {"matches": 0, "min": None, "p05": None, "median": None, "p95": None, "max": None}

        def pct(p: float) -> int:
            return values[min(len(values) - 1, int(p * (len(values) - 1) + 0.5))]

        return {
            "matches": len(values),
            "min": values[0],
            "p05": pct(0.05),
            "median": statistics.median(values),
            "p95": pct(0.95),
            "max": values[-1],
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "user_id": self.user_id,
            "import_id": self.import_id,
            "status": self.status,
            "error": self.error,
            "records_read": self.records_read,
            **{name: self.bucket(name) for name in BUCKETS},
            "imported_new": self.imported_new,
            "api_plays_enriched": self.api_plays_enriched,
            "export_rows_replaced": self.export_rows_replaced,
            "export_rows_upgraded": self.export_rows_upgraded,
            "private_rows_removed": self.private_rows_removed,
            "legacy_podcasts": self.legacy_podcasts,
            "legacy_unclassified": self.legacy_unclassified,
            "account_resolved_locally": self.account_resolved_locally,
            "account_resolved_by_search": self.account_resolved_by_search,
            "account_unresolved": self.account_unresolved,
            "resolver_stopped": self.resolver_stopped,
            "malformed_records": [
                {"file": m.file, "index": m.index, "reason": m.reason} for m in self.malformed
            ],
            "malformed_not_listed": self.malformed_count - len(self.malformed),
            **self.file_counts(),
            "files": [
                {
                    "name": f.name,
                    "format": f.format,
                    "status": f.status,
                    "records": f.records,
                    "malformed": f.malformed,
                    "problem": f.problem,
                }
                for f in self.files
            ],  # fmt: skip
            "unknown_files": [{"name": n, "reason": r} for n, r in self.unknown_files],
            "unreadable_files": [{"name": n, "reason": r} for n, r in self.unreadable_files],
            "ignored_files": list(self.ignored_files),
            "archived": None if self.archived is None else [a.to_dict() for a in self.archived],
            "match_offsets_seconds": self.offset_summary(),
            "first_play": self.first_play.isoformat() if self.first_play else None,
            "last_play": self.last_play.isoformat() if self.last_play else None,
            "gaps_closed": list(self.gaps_closed),
            "gaps_open": self.gaps_open,
        }


def _stored_size(d: dict[str, Any]) -> int:
    return len(json.dumps(d, default=str, sort_keys=True).encode())  # as runs.finish_import_run stores it


def render_report_table(report: ImportReport, max_listed: int = 20) -> Table:
    """The report as a rich table: the identity first, then the breakdowns and what was left out."""
    table = Table(title=Text(f"Import of {report.source} ({report.status})"), show_header=True)
    table.add_column("", style="bold")
    table.add_column("records", justify="right")
    table.add_column("notes")
    counts = report.file_counts()
    table.add_row(
        "read", str(report.records_read),
        f"{counts['files_read']} files read, {counts['files_partial']} partial, {counts['files_unreadable']} "
        f"unreadable, {counts['files_unknown']} not streaming history",
    )  # fmt: skip
    notes = {
        "imported": f"{report.imported_new} new, {report.imported - report.imported_new} already there",
        "duplicates_of_api": f"{report.api_plays_enriched} API plays enriched",
        "too_short": "under 30 s, not a play (as the API counts)",
        "incognito": "private session: not kept",
    }
    for name in BUCKETS:
        table.add_row(f"  {name.replace('_', ' ')}", str(report.bucket(name)), notes.get(name, ""))
    table.add_section()
    if report.account_resolved_locally or report.account_resolved_by_search or report.account_unresolved:
        table.add_row(
            "account data ids", "",
            f"{report.account_resolved_locally} from the warehouse, {report.account_resolved_by_search} by search, "
            f"{report.account_unresolved} kept with names",
        )  # fmt: skip
    if report.export_rows_upgraded or report.export_rows_replaced or report.private_rows_removed:
        table.add_row(
            "earlier rows", "",
            f"{report.export_rows_upgraded} account-data rows given exact times and ids, "
            f"{report.export_rows_replaced} replaced by their API play, "
            f"{report.private_rows_removed} removed as private-session plays",
        )  # fmt: skip
    if report.legacy_podcasts or report.legacy_unclassified:
        table.add_row(
            "legacy files", "",
            f"{report.legacy_podcasts} podcast rows recognised by episode name, "
            f"{report.legacy_unclassified} kept as plays without a track id (music or podcast: unknown)",
        )  # fmt: skip
    if report.resolver_stopped:
        table.add_row("search stopped", "", Text(report.resolver_stopped))
    summary = report.offset_summary()
    if summary["matches"]:
        table.add_row(
            "ts - played_at", str(summary["matches"]),
            f"median {summary['median']} s, p05 {summary['p05']} s, p95 {summary['p95']} s, "
            f"range {summary['min']}..{summary['max']} s",
        )  # fmt: skip
    if report.first_play:
        table.add_row("period", "", f"{report.first_play:%Y-%m-%d} .. {report.last_play:%Y-%m-%d}")
    table.add_row("gaps closed", str(len(report.gaps_closed)), f"{report.gaps_open} still open")
    for entry in report.malformed[:max_listed]:
        table.add_row("malformed", "", Text(f"{entry.file} #{entry.index}: {entry.reason}"))
    if report.malformed_count > max_listed:
        table.add_row("malformed", "", f"... {report.malformed_count - max_listed} more (see --json)")
    for f in report.partial_files:
        table.add_row("partial file", str(f.records), Text(f"{f.name}: {f.problem}"))
    for name, reason in report.unreadable_files:
        table.add_row("unreadable file", "", Text(f"{name}: {reason}"))
    for name, reason in report.unknown_files:
        table.add_row("unknown file", "", Text(f"{name}: {reason}"))
    if report.error:
        table.add_row("error", "", Text(report.error))
    return table
