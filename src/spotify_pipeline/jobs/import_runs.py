"""The ``import_runs`` row of an import: how it ends, whatever ends it.

A run is never left ``running``: it ends ``ok`` or ``partial`` (the report says what was not
imported), ``failed`` (an error outside any one record: ``ImportFailed``) or ``interrupted``
(Ctrl-C: ``ImportInterrupted``). If the warehouse itself is what failed, the row cannot be updated
then; the next import of the user marks it ``interrupted`` (``close_abandoned_runs``), as it does for
a run whose process was killed.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import Connection
from sqlalchemy.engine import Engine

from ..clock import Clock
from ..errors import PipelineError
from ..exports.report import ImportReport
from ..warehouse.rollups import after_import
from ..warehouse.runs import close_abandoned_import_runs, finish_import_run

log = logging.getLogger("spotify_pipeline.jobs.import_history")


class ImportInterrupted(PipelineError):
    """Ctrl-C during an import: every batch before it is in, the one being written was rolled back."""

    def __init__(self, records: int, import_id: int | None) -> None:
        super().__init__(f"import interrupted after {records:,} records; nothing half-written: run it again")
        self.records = records
        self.import_id = import_id


class ImportFailed(PipelineError):
    """The import stopped on an error outside any one record (the warehouse failing, a bug)."""


def close_abandoned_runs(conn: Connection, user: str, now: datetime) -> None:
    """Runs of this user still ``running`` were abandoned (SIGKILL, power cut, the warehouse gone
    when the run tried to finish): mark them ``interrupted`` so none stays ``running``. Their batches
    are in; running the import again completes them."""

    close_abandoned_import_runs(conn, user, now=now)


def finish_run(engine: Engine, report: ImportReport, clock: Clock, status: str, error: str | None) -> None:
    """Update the rollups of what the run wrote and record how the run ended. Best effort on a
    failure path: if the warehouse itself is what failed, the next import marks the row
    ``interrupted`` (``close_abandoned_runs``)."""

    report.status, report.error = status, error
    assert report.import_id is not None
    try:  # the rollups of the export's span, whatever ended the run: its committed batches are in
        after_import(engine, report.user_id, report.first_play, report.last_play)
    except Exception as exc:
        if status in ("ok", "partial"):
            raise ImportFailed(
                f"import {report.import_id} read every file but could not update the rollups "
                f"({one_line(exc)}); its plays are in: run it again to update them"
            ) from exc
        log.warning("import %s: could not update the rollups (%s)", report.import_id, one_line(exc))
    try:
        with engine.begin() as conn:
            finish_import_run(
                conn, report.import_id, finished_at=clock.now(), status=status, report=report.to_stored_dict()
            )
    except Exception as exc:
        if status in ("ok", "partial"):
            raise ImportFailed(
                f"import {report.import_id} read every file but could not record its end ({one_line(exc)}); "
                "its plays are in: run it again to record it"
            ) from exc
        log.warning("import %s: could not mark the run %s (%s)", report.import_id, status, one_line(exc))


def one_line(exc: BaseException) -> str:
    """``Type: first line of the message``, short: SQL errors carry the statement and its parameters."""
    inner = getattr(exc, "orig", None) or exc
    text = str(inner).strip().splitlines()[0] if str(inner).strip() else ""
    text = text if len(text) <= 200 else text[:197] + "..."
    return f"{type(inner).__name__}: {text}" if text else type(inner).__name__
