"""`spotify-pipeline import-history` (`coverage` is in coverage_cmd)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from .common import call, console, err_console, print_json, settings, warn


def import_history(
    path: Annotated[Path, typer.Argument(help="The zip Spotify sent, a folder, or single JSON files")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as one JSON object")] = False,
) -> None:
    """Import a Spotify privacy export ("Download your data"), deduplicated against API plays."""
    from ..exports.report import render_report_table
    from ..jobs.import_history import import_history as job

    if not path.exists():
        raise typer.BadParameter(f"{path} does not exist", param_hint="PATH")
    s = settings()
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,} records"),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
        disable=as_json,
    ) as bar:
        task = bar.add_task(f"importing {path.name}", total=None)

        def progress(done: int, total: int | None = None, description: str | None = None) -> None:
            bar.update(task, completed=done, total=total, description=description or f"importing {path.name}")

        report = call(job, s, path, progress=progress)
    if as_json:
        print_json(report.to_dict())
    else:
        console.print(render_report_table(report))
        for entry in report.malformed[:20]:
            warn(f"{entry.file} record {entry.index}: {entry.reason}", "malformed")
        if len(report.malformed) > 20:
            err_console.print(f"... and {len(report.malformed) - 20} more malformed records (see --json)")
        if report.error:
            warn(report.error)
