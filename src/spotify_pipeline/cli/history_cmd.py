"""`spotify-pipeline import-history` (`coverage` is in coverage_cmd)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..errors import PipelineError
from ..exports.report import ImportReport, render_report_table
from ..jobs.import_history import import_history as import_job
from ..jobs.import_runs import ImportInterrupted
from .common import console, fail, print_json, settings, warn
from .progress import progress_bar

#: Exit code of an import that finished but did not import everything (``partial``): not 0, so a
#: script notices; not 1 (an error: nothing more was done), so it can tell the two apart.
EXIT_PARTIAL = 3
#: Exit code after Ctrl-C (128 + SIGINT), as shells report it.
EXIT_INTERRUPTED = 130


def import_history(
    ctx: typer.Context,
    path: Annotated[
        Path,
        typer.Argument(
            help="The zip Spotify sent, a folder, or single JSON files", metavar="PATH", exists=True
        ),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as one JSON object")] = False,
) -> None:
    """Import a Spotify privacy export ("Download your data"), deduplicated against API plays.

    Exit status: 0 everything imported; 3 partial (a file or record was not imported: named on
    stderr); 1 failed; 130 interrupted (Ctrl-C).
    """
    s = settings(ctx)
    try:
        with progress_bar(f"importing {path.name}", "records", disable=as_json) as progress:
            report = import_job(s, path, progress=progress)
    except ImportInterrupted as exc:
        _say("interrupted", str(exc))
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except KeyboardInterrupt:
        _say(
            "interrupted", "import interrupted before any record was read; nothing was written: run it again"
        )
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except PipelineError as exc:
        fail(str(exc))
    if as_json:
        print_json(report.to_dict())
    else:
        console.print(render_report_table(report))
    _warn_what_was_not_imported(report)
    if report.status != "ok":
        _say("partial", report.why_partial())
        raise typer.Exit(EXIT_PARTIAL)


def _say(label: str, text: str) -> None:
    """One line on stderr: a coloured label, then the text as is (file names may hold ``[...]``)."""
    warn(text, label)


def _warn_what_was_not_imported(report: ImportReport) -> None:
    """One line per file or record left out, on stderr (whatever stdout carries), at most 20 records."""
    for f in report.partial_files:
        _say("partial file", f"{f.name}: {f.records} records read, then {f.problem}")
    for name, reason in report.unreadable_files:
        _say("unreadable file", f"{name}: {reason}")
    for entry in report.malformed[:20]:
        _say("malformed", f"{entry.file} record {entry.index}: {entry.reason}")
    if report.malformed_count > 20:
        _say("malformed", f"... and {report.malformed_count - 20} more (see --json)")
    if report.error:
        _say("warning", report.error)
