"""`spotify-pipeline stats` and `spotify-pipeline export plays`: the read side, over ``insights``."""

from __future__ import annotations

import csv
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from ..insights.export import export_plays as export_job
from ..insights.period import Period, parse_day, resolve_period
from ..insights.queries import Scope
from ..insights.source import open_warehouse
from ..insights.stats import Insights
from .common import call, console, fail, print_json, settings, warn
from .progress import progress_bar

export_app = typer.Typer(help="Take the history elsewhere: every play as a file.", no_args_is_help=True)

PeriodOpt = Annotated[
    str | None, typer.Option("--period", help="day, week, month, year or all (default: month)")
]
FromOpt = Annotated[str | None, typer.Option("--from", help="First local day, YYYY-MM-DD")]
ToOpt = Annotated[str | None, typer.Option("--to", help="Last local day (inclusive), YYYY-MM-DD")]
UserOpt = Annotated[
    str | None, typer.Option("--user", help="The listener (default: the `user` setting); `*` for every user")
]


def _open(
    ctx: typer.Context, period: str | None, first: str | None, last: str | None, user: str | None
) -> tuple[Any, Period, str | None]:  # the engine: faces name no SQLAlchemy type
    s = settings(ctx, raw_zone_must_exist=False)  # reads the warehouse only
    span = call(resolve_period, period, timezone=s.timezone, now=datetime.now(UTC),
                first=call(parse_day, first, "--from"), last=call(parse_day, last, "--to"))  # fmt: skip
    engine = call(open_warehouse, s.warehouse_url.get_secret_value())
    name = s.user if user is None else (None if user == "*" else user)
    return engine, span, name


def stats(
    ctx: typer.Context,
    period: PeriodOpt = None,
    first: FromOpt = None,
    last: ToOpt = None,
    top: Annotated[int, typer.Option("--top", min=1, max=1000, help="Length of each top list")] = 10,
    user: UserOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print everything as one JSON object")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print the top lists as CSV")] = False,
) -> None:
    """What you listened to most: totals, top artists, tracks and albums, streaks, discoveries."""
    if as_json and as_csv:
        fail("choose one of --json and --csv")
    engine, span, name = _open(ctx, period, first, last, user)
    summary = call(lambda: Insights(engine, name, span).summary(top))
    if as_json:
        print_json(summary.as_dict())
    elif as_csv:
        _print_csv(summary.as_dict())
    else:
        _print_tables(summary.as_dict())


def _print_csv(d: dict[str, Any]) -> None:
    writer = csv.writer(sys.stdout)
    writer.writerow(["list", "rank", "key", "name", "artist", "plays", "minutes"])
    for kind in ("artists", "tracks", "albums"):
        for order in ("by_plays", "by_minutes"):
            for rank, item in enumerate(d[f"top_{kind}"][order], 1):
                writer.writerow([f"{kind}_{order}", rank, item["key"], item["name"], item["artist"] or "",
                                 item["plays"], item["minutes"]])  # fmt: skip


def _print_tables(d: dict[str, Any]) -> None:
    per = d["period"]
    span = (
        "all of history"
        if per["from"] is None and per["to"] is None
        else f"{per['from'] or '…'} .. {per['to'] or '…'}"
    )
    who = d["user"] if d["user"] is not None else "every user"
    t = d["totals"]
    console.print(Text(who, style="bold"), Text(f", {span} ({per['timezone']}): {t['plays']:,} plays, "
                  f"{t['minutes']:,.0f} minutes, {t['tracks']:,} tracks, {t['artists']:,} artists, "
                  f"{t['albums']:,} albums"), sep="", highlight=False)  # fmt: skip
    for kind in ("artists", "tracks", "albums"):
        table = Table(title=f"Top {kind} by plays")
        for col in ("#", kind[:-1]) + (("artist",) if kind != "artists" else ()) + ("plays", "minutes"):
            table.add_column(col, justify="right" if col in ("#", "plays", "minutes") else "left")
        for rank, item in enumerate(d[f"top_{kind}"]["by_plays"], 1):
            artist = (Text(item["artist"] or ""),) if kind != "artists" else ()
            table.add_row(
                str(rank), Text(item["name"]), *artist, f"{item['plays']:,}", f"{item['minutes']:,.1f}"
            )
        console.print(table)
    st, sk = d["streaks"], d["skips"]
    console.print(f"streaks: current {st['current']['days']} days, longest {st['longest']['days']} days"
                  + (f" ({st['longest']['first']} .. {st['longest']['last']})" if st["longest"]["days"] else ""),
                  highlight=False)  # fmt: skip
    new_tracks = sum(m["new_tracks"] for m in d["discoveries"])
    new_artists = sum(m["new_artists"] for m in d["discoveries"])
    console.print(f"discoveries: {new_tracks:,} tracks and {new_artists:,} artists played for the first time",
                  highlight=False)  # fmt: skip
    if sk["known"]:
        console.print(f"skips (where the export says): {sk['skipped']:,} of {sk['known']:,} ({sk['rate']:.1%})",
                      highlight=False)  # fmt: skip
    events = d["following"]["events"]
    console.print(f"following: {d['following']['followed_now']} artists now; "
                  f"{sum(e['event'] == 'followed' for e in events)} followed and "
                  f"{sum(e['event'] == 'unfollowed' for e in events)} unfollowed in the period", highlight=False)  # fmt: skip


@export_app.command("plays")
def export_plays(
    ctx: typer.Context,
    fmt: Annotated[str, typer.Option("--format", help="csv, jsonl, parquet or listenbrainz")],
    out: Annotated[Path, typer.Option("--out", help="The file to write")],
    first: FromOpt = None,
    last: ToOpt = None,
    user: UserOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Replace --out if it exists")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as one JSON object")] = False,
) -> None:
    """Every play with its track, artists, album and source, as CSV, JSON Lines, Parquet or ListenBrainz."""
    engine, span, name = _open(ctx, None if (first or last) else "all", first, last, user)
    with progress_bar(f"exporting to {out.name}", "plays") as progress:
        result = call(export_job, engine, Scope(name, span.start_utc, span.end_utc), fmt, out, force=force,
                      progress=progress)  # fmt: skip
    if as_json:
        print_json(result.as_dict())
        return
    console.print(f"wrote {result.plays:,} plays to {out} ({fmt})", highlight=False)
    if result.skipped:
        warn(f"left out {result.skipped:,} plays without an artist or track name")
