"""What the import-job tests share: the fixture exports and the identity every report must hold."""

from __future__ import annotations

from pathlib import Path

from spotify_pipeline.exports.report import BUCKETS, ImportReport

#: Small exports of every format (tests/exports/fixtures).
EXPORT_FIXTURES = Path(__file__).parents[1] / "exports" / "fixtures"


def assert_adds_up(report: ImportReport) -> None:
    """The identity every report must hold, checked independently of ImportReport.check()."""
    parts = {name: report.bucket(name) for name in BUCKETS}
    assert sum(parts.values()) == report.records_read, parts
    assert report.imported_new <= report.imported
