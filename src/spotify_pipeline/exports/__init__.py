"""Spotify privacy exports: recognise the four formats, stream their records, match them with API
plays, and report every record. The job that writes is ``spotify_pipeline.jobs.import_history``."""

from .formats import ExportFormat, ExportRecord, RecordKind, detect_format, parse_record
from .matching import (
    Candidate,
    Match,
    match_by_names,
    match_by_track_id,
    match_minute_rows,
    normalise_name,
)
from .reader import ExportFile, ExportReadError, discover, read_records, sniff
from .report import ImportReport, ReportMismatch, render_report_table

__all__ = [
    "Candidate", "ExportFile", "ExportFormat", "ExportReadError", "ExportRecord", "ImportReport", "Match",
    "RecordKind", "ReportMismatch", "detect_format", "discover", "match_by_names", "match_by_track_id",
    "match_minute_rows", "normalise_name", "parse_record", "read_records", "render_report_table", "sniff",
]  # fmt: skip
