"""`spotify-pipeline coverage`: per day, how much of what the export lists did the polling catch."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..insights.coverage import coverage as coverage_job
from ..insights.coverage import render_coverage_table, to_csv
from ..jobs.runtime import migrated_engine
from ..warehouse.engine import DbTimeouts
from .common import call, console, fail, print_json, settings


def check_csv_target(path: Path) -> None:
    """Refuse a folder or a file in a missing folder before any work, naming the option."""
    if path.is_dir():
        fail(f"--csv {path} is a folder: give a file name, e.g. {path / 'coverage.csv'}")
    if not path.parent.is_dir():
        fail(f"--csv {path}: the folder {path.parent} does not exist; create it first")


def coverage(
    ctx: typer.Context,
    csv: Annotated[
        Path | None, typer.Option("--csv", help="Write the per-day table to this CSV file")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON array")] = False,
) -> None:
    """Per day: plays from the API, from the export, matched, API-only, export-only, capture rate."""
    if csv is not None:
        check_csv_target(csv)
    s = settings(ctx)
    engine = call(migrated_engine, s.warehouse_url.get_secret_value(), DbTimeouts.from_settings(s))
    rows = call(coverage_job, engine, s.user)
    if csv is not None:
        try:
            to_csv(rows, csv)
        except OSError as exc:
            fail(f"--csv {csv}: cannot write ({exc.strerror})")
        console.print(f"wrote {len(rows)} days to {csv}")
    elif as_json:
        print_json([r.as_dict() for r in rows])
    else:
        console.print(render_coverage_table(rows))
