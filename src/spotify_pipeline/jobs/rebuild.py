"""Rebuild the warehouse from what the pipeline keeps outside it: the raw zone and the recorded
export imports.

What is rebuilt and from where:

- plays, tracks, albums, artists, credits, audio features, metadata misses, followed-artist
  history and the manifest: by loading every raw object, exactly as ``process`` does;
- gaps: by replaying every landed recently-played fetch in ``fetched_at`` order with the rule
  ``download_recently_played`` applies when it fetches (a full page whose oldest play is newer than the newest
  play seen before it);
- export imports: by running each successful import recorded in ``import_runs`` again, in the
  original order, from the copies of its files it archived in the raw zone (``imports/``, keys in
  the run's report), under the names it gave them, so the replayed report reads the same. The
  import table is read from the warehouse being replaced (or the one the settings name, when
  building elsewhere) before anything is written. An import made before exports were archived is
  replayed from the paths it names, which archives its files now, and the report says so; one whose
  archived copy or files are gone is reported by name, never skipped silently.

Not rebuilt, because the raw zone never held them: ``fetch_runs`` (the log of API calls and failed
runs) and ``app_state`` (pauses, remembered capabilities, the poll cursor). Load-time stamps
(``loaded_at``, ``created_at``, ``first_seen_at``, ``detected_at``, ``closed_at``, the import run's
start and finish) are the rebuild's own times.

Rebuilding in place drops the warehouse's tables and recreates them at the newest migration.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from sqlalchemy import inspect, select
from sqlalchemy.engine import Engine

from ..clock import Clock, from_ms, to_ms
from ..errors import MalformedRawObject, PipelineError
from ..landing.envelope import parse_object
from ..landing.keys import parse_key
from ..settings import Settings
from ..transform.gaps import advance, detect_gap
from ..transform.timestamps import parse_played_at
from .import_archive import ArchivedExport
from .report import JobReport
from .runtime import Runtime

log = logging.getLogger(__name__)

IMPORT_STATUSES = ("ok", "partial")  # a failed import left nothing a re-run must reproduce


@dataclass(frozen=True)
class RecordedImport:
    id: int
    user_id: str
    source: str
    archive: ArchivedExport | None  # None: made before exports were archived; only ``paths`` remain

    @property
    def paths(self) -> list[Path]:
        return [Path(p) for p in self.source.split(", ")]


def rebuild(
    settings: Settings,
    *,
    clock: Clock | None = None,
    runtime: Runtime | None = None,
    target_url: str | None = None,
) -> JobReport:
    """Recreate the warehouse at ``target_url`` (default: the settings' own, rebuilt in place) from
    the raw zone and the recorded export imports. Returns what was loaded and what could not be."""
    from ..warehouse import schema, writes
    from ..warehouse.engine import make_engine, upgrade
    from .import_history import import_history
    from .process import process

    source_url = settings.warehouse_url.get_secret_value()
    target = target_url or source_url
    report = JobReport("rebuild")
    imports = _recorded_imports(make_engine(source_url))

    engine = make_engine(target)
    _reset(engine, schema.metadata, in_place=target == source_url)
    upgrade(engine)
    target_settings = settings.model_copy(update={"warehouse_url": SecretStr(target)})
    rt = Runtime(target_settings, transport=runtime.transport if runtime else None)
    if clock is not None:
        rt.clock = clock
    elif runtime is not None:
        rt.clock = runtime.clock
    rt.__dict__["engine"] = engine  # the freshly migrated engine, not the per-process migration cache

    loaded = process(target_settings, runtime=rt)
    for name, n in loaded.counts.items():
        report.add(name, n)
    report.problems += loaded.problems

    with engine.begin() as conn:
        for user, gap_from, gap_to, detected_at, key in _replayed_gaps(rt):
            if writes.record_gap(conn, user, gap_from, gap_to, detected_at, key):
                report.add("gaps_detected")

    from_paths: list[str] = []
    for recorded in imports:
        what: ArchivedExport | list[Path]
        if recorded.archive is not None:
            what = recorded.archive
        else:
            missing = [p for p in recorded.paths if not p.exists()]
            if missing:
                report.problems.append(
                    f"import {recorded.id} was not replayed: it was made before export files were archived "
                    f"in the raw zone, and {', '.join(map(str, missing))} no longer exists; run "
                    "`spotify-pipeline import-history PATH` with the export again"
                )
                continue
            what = recorded.paths
        user_settings = target_settings.model_copy(update={"user": recorded.user_id})
        try:
            done = import_history(user_settings, what, clock=rt.clock, engine=engine, store=rt.store)
        except PipelineError as exc:
            report.problems.append(f"import {recorded.id} ({recorded.source}) could not be replayed: {exc}")
            continue
        report.add("imports_replayed")
        report.add("plays_imported", done.imported_new)
        if recorded.archive is None:
            report.add("imports_replayed_from_paths")
            from_paths.append(str(recorded.id))

    if report.problems:
        report.status = "partial"
    report.message = (
        f"rebuilt {_masked(target)} from {rt.store.location}: {report.counts.get('objects_loaded', 0)} objects, "
        f"{report.counts.get('plays_inserted', 0)} plays, {report.counts.get('imports_replayed', 0)} imports"
    )
    if from_paths:
        report.message += (
            f"; import {', '.join(from_paths)} predated export archiving and was replayed from its original "
            "files, which are now archived in the raw zone"
        )
    log.info("%s", report.message)
    return report


def _masked(url: str) -> str:
    from ..settings import mask_url

    return mask_url(url)


def _recorded_imports(engine: Engine) -> list[RecordedImport]:
    """The successful imports recorded in ``import_runs``, oldest first (none if there is no table)."""
    from ..warehouse import schema

    if not inspect(engine).has_table("import_runs"):
        return []
    runs = schema.import_runs
    query = (
        select(runs.c.id, runs.c.user_id, runs.c.source, runs.c.report)
        .where(runs.c.status.in_(IMPORT_STATUSES))
        .order_by(runs.c.id)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    out = []
    for run_id, user_id, source, report_json in rows:
        recorded = json.loads(report_json) if report_json else {}
        # The report keeps the source as given; import_runs.source is cut at 1024 characters.
        full = recorded.get("source", source)
        out.append(RecordedImport(run_id, user_id, full, ArchivedExport.from_report(recorded)))
    return out


def _reset(engine: Engine, metadata: Any, *, in_place: bool) -> None:
    """Drop the schema's tables (and Alembic's marker) so the migrations start from nothing."""
    from sqlalchemy import Table

    names = set(inspect(engine).get_table_names())
    ours = names & set(metadata.tables)
    if ours and not in_place:
        with engine.connect() as conn:
            if any(conn.execute(select(metadata.tables[t]).limit(1)).first() for t in ours):
                raise PipelineError(
                    f"the rebuild target {_masked(str(engine.url))} already holds data: rebuild into an empty "
                    "database, or leave the target out to rebuild the configured warehouse in place"
                )
    metadata.drop_all(engine)
    if "alembic_version" in names:
        from sqlalchemy import MetaData

        Table("alembic_version", MetaData(), autoload_with=engine).drop(engine)


def _replayed_gaps(rt: Runtime) -> list[tuple[str, datetime, datetime, datetime, str]]:
    """Replay every landed recently-played fetch in time order with ``download_recently_played``'s gap rule."""
    fetches: list[tuple[datetime, str, str, list[int], int]] = []
    for info in rt.store.list(""):
        try:
            kind, _hour, key_user = parse_key(info.key)
        except ValueError:
            continue
        if kind != "recently_played":
            continue
        data = rt.store.get(info.key)
        try:
            envelope = parse_object(data or b"", info.key)
        except MalformedRawObject:
            continue  # process quarantined it and said so
        user = key_user or envelope.get("user") or rt.settings.user
        for fetch in envelope["fetches"]:
            at, page = fetch.get("fetched_at"), fetch.get("response")
            if not at or fetch.get("status", 200) != 200 or not isinstance(page, dict):
                continue  # a bare legacy page has no fetch time to order it by
            items = page.get("items") or []
            played = sorted(to_ms(parse_played_at(i["played_at"])) for i in items if i.get("played_at"))
            fetches.append((parse_played_at(at), user, info.key, played, len(items)))
    gaps = []
    newest: dict[str, int] = {}
    for fetched_at, user, key, played, _n_items in sorted(fetches, key=lambda f: (f[0], f[2])):
        known = newest.get(user)
        found = detect_gap(played, known)
        if found:
            gaps.append((user, from_ms(found[0]), from_ms(found[1]), fetched_at, key))
        after = advance(played, known)
        if after is not None:
            newest[user] = after
    return gaps
