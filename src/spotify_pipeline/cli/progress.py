"""A progress bar on stderr for long commands, drawn only on a terminal (cron logs stay clean)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from ..jobs.progress import ProgressFn
from .common import err_console


@contextmanager
def progress_bar(description: str, unit: str, *, disable: bool = False) -> Iterator[ProgressFn]:
    """Yield a ``ProgressFn`` that moves a bar counting ``unit`` (e.g. "records", "objects")."""
    with Progress(
        TextColumn("{task.description}", markup=False),  # descriptions hold file names: exp[old]
        BarColumn(),
        TextColumn("{task.completed:,} " + unit),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
        disable=disable or not err_console.is_terminal,
    ) as bar:
        task = bar.add_task(description, total=None)

        def progress(done: int, total: int | None = None, text: str | None = None) -> None:
            bar.update(task, completed=done, total=total, description=text or description)

        yield progress
