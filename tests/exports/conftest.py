"""Shared pieces of the export tests: the fixture exports."""

from __future__ import annotations

from pathlib import Path

EXPORT_FIXTURES = Path(__file__).parent / "fixtures"
