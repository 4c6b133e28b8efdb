"""Per-day capture coverage: how many of the plays a privacy export lists did the API polling catch?

Definitions (docs/import-history.md, "Coverage"), per UTC day of ``played_at``:

* ``api_plays``    rows loaded from the recently-played API (``source = 'api'``).
* ``matched``      API rows an export record was matched to (``matched_import_id`` names the import
                   run that matched them; migration 0002).
* ``api_only``     ``api_plays - matched``: the export did not list them (or no export covers the day).
* ``export_only``  rows only the export gave (``source = 'export'``): plays the polling missed.
* ``export_plays`` ``matched + export_only``: every music play of 30 s or more, not in a private
                   session, that the export holds (what the import keeps).
* ``polled``       the day is on or after the first day polling saw (the first API play or the first
                   recently-played fetch, whichever is earlier).
* ``capture_rate`` ``matched / export_plays``; None on days without export plays (not covered by an
                   export, or silent) and on days before polling began (an export-only user's
                   history is not a 0 % capture), so such a day never reads as 0 % or 100 %.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from datetime import date, datetime, timedelta
from pathlib import Path

from rich.table import Table
from sqlalchemy import func, select
from sqlalchemy.engine import Connection, Engine

from ..warehouse import schema as s
from ..warehouse.rollups import hour_of, hour_start

EPOCH_DAY = date(1970, 1, 1)


@dataclass
class CoverageDay:
    day: date
    api_plays: int = 0
    export_plays: int = 0
    matched: int = 0
    api_only: int = 0
    export_only: int = 0
    polled: bool = True

    @property
    def capture_rate(self) -> float | None:
        return self.matched / self.export_plays if self.export_plays and self.polled else None

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = asdict(self)
        out["day"] = self.day.isoformat()
        rate = self.capture_rate
        out["capture_rate"] = None if rate is None else round(rate, 4)
        return out


def coverage(
    engine: Engine, user_id: str, start: datetime | None = None, end: datetime | None = None
) -> list[CoverageDay]:
    """One row per UTC day that has any play in ``[start, end)``, oldest first.

    The whole UTC hours of the range come from ``play_hours``, summed per day in SQL (one row per
    day, never one per play or hour); a bound inside an hour has the rest of that hour counted from the plays, grouped in SQL."""

    h, p = s.play_hours, s.plays
    first = None if start is None else hour_of(start) + (0 if start == hour_start(hour_of(start)) else 1)
    last = None if end is None else hour_of(end)  # exclusive
    days: dict[date, CoverageDay] = {}
    with engine.connect() as conn:
        first_polled = _first_polled_day(conn, user_id)

        def add(day: date, api: int, matched: int, export: int) -> None:
            row = days.get(day) or days.setdefault(
                day, CoverageDay(day, polled=first_polled is not None and day >= first_polled)
            )
            row.api_plays += api
            row.matched += matched
            row.api_only += api - matched
            row.export_only += export

        day = (h.c.hour // 24).label("day")  # UTC days since 1970-01-01: summed in SQL, one row a day
        query = select(day, func.sum(h.c.plays), func.sum(h.c.api_plays), func.sum(h.c.api_matched)).where(
            h.c.user_id == user_id
        )
        if first is not None:
            query = query.where(h.c.hour >= first)
        if last is not None:
            query = query.where(h.c.hour < last)
        if first is None or last is None or first < last:
            for number, plays, api, matched in conn.execute(query.group_by(day)):
                add(EPOCH_DAY + timedelta(days=int(number)), int(api), int(matched), int(plays) - int(api))
        # The parts of an hour a bound cuts: from the plays (at most two hours' worth).
        edges: list[tuple[datetime | None, datetime | None]] = []
        if first is not None and last is not None and first >= last:
            edges.append((start, end))
        else:
            if start is not None and first is not None and hour_start(first) > start:
                edges.append((start, hour_start(first)))
            if end is not None and last is not None and hour_start(last) < end:
                edges.append((hour_start(last), end))
        for lo, hi in edges:
            edge = select(p.c.played_at, p.c.source, p.c.matched_import_id.is_not(None)).where(
                p.c.user_id == user_id
            )
            if lo is not None:
                edge = edge.where(p.c.played_at >= lo)
            if hi is not None:
                edge = edge.where(p.c.played_at < hi)
            for played_at, source, matched in conn.execute(edge):
                api = source == "api"
                add(played_at.date(), int(api), int(api and bool(matched)), int(not api))
    for row in days.values():
        row.export_plays = row.matched + row.export_only
    return [days[d] for d in sorted(days)]


def _first_polled_day(conn: Connection, user_id: str) -> date | None:
    """The first UTC day the API polling saw: its first play (its hour in ``play_hours``) or its
    first fetch, if any."""

    h, f = s.play_hours, s.fetch_runs
    first_hour = conn.execute(
        select(func.min(h.c.hour)).where(h.c.user_id == user_id, h.c.api_plays > 0)
    ).scalar()
    first_fetch = conn.execute(
        select(func.min(f.c.started_at)).where(f.c.user_id == user_id, f.c.kind == "recently_played")
    ).scalar()
    known = [v.date() for v in (first_fetch,) if v is not None]
    if first_hour is not None:
        known.append(hour_start(int(first_hour)).date())
    return min(known) if known else None


def totals(rows: Iterable[CoverageDay]) -> CoverageDay:
    """The sum over days (``day`` is the first day), for a summary line (its rate: ``total_rate``)."""
    rows = list(rows)
    out = CoverageDay(rows[0].day if rows else date.min)
    for r in rows:
        out.api_plays += r.api_plays
        out.export_plays += r.export_plays
        out.matched += r.matched
        out.api_only += r.api_only
        out.export_only += r.export_only
    return out


def total_rate(rows: Iterable[CoverageDay]) -> float | None:
    """Matched / export plays over the polled days only, as each day's rate is counted."""
    polled = [r for r in rows if r.polled]
    export = sum(r.export_plays for r in polled)
    return sum(r.matched for r in polled) / export if export else None


COLUMNS = tuple(f.name for f in fields(CoverageDay)) + ("capture_rate",)


def to_csv(rows: Iterable[CoverageDay], path: Path) -> int:
    """Write the rows to ``path`` (header + one line per day); returns the number of days written."""
    n = 0
    with Path(path).open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        for row in rows:
            d = row.as_dict()
            d["capture_rate"] = "" if d["capture_rate"] is None else d["capture_rate"]
            writer.writerow(d)
            n += 1
    return n


def render_coverage_table(rows: Iterable[CoverageDay]) -> Table:
    rows = list(rows)
    table = Table(title="Capture coverage (API polling vs privacy export), per UTC day")
    for name in ("day", "API", "export", "matched", "API only", "export only", "capture"):
        table.add_column(name, justify="left" if name == "day" else "right")

    def line(label: str, r: CoverageDay, rate: float | None) -> list[str]:
        return [label, str(r.api_plays), str(r.export_plays), str(r.matched), str(r.api_only), str(r.export_only),
                "-" if rate is None else f"{rate:.1%}"]  # fmt: skip

    for r in rows:
        table.add_row(*line(r.day.isoformat(), r, r.capture_rate))
    if rows:
        table.add_section()
        table.add_row(*line("total", totals(rows), total_rate(rows)))
    if any(not r.polled for r in rows):
        table.caption = "capture '-' before the first polled day: polling had not started"
    return table
