"""`spotify-pipeline status` and `spotify-pipeline doctor`: what a person reads, all on stdout."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from ..jobs import doctor as doctor_job
from ..jobs import status as status_job
from ..jobs.status import duration_text
from .common import call, console, print_json, settings

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object")]
LEVEL_STYLE = {"ok": "green", "warn": "yellow", "fail": "bold red", "skipped": "dim"}


def when(iso: str | None) -> str:
    """``2026-12-01 10:20 UTC`` from an ISO 8601 UTC time."""
    if not iso:
        return "never"
    return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M UTC")


def _fetch_line(fetch: dict[str, Any] | None) -> str:
    if fetch is None:
        return "never"
    line = f"{when(fetch['started_at'])} ({duration_text(fetch['age_seconds'])} ago), {fetch['status']}"
    if fetch["status"] == "failed" and fetch.get("message"):
        line += f": {fetch['message']}"
    return line


def status(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Counts, last fetches, open gaps, token expiry and any rate-limit pause."""
    data = call(status_job.status, settings(ctx))
    if as_json:
        print_json(data)
        return
    table = Table(title=f"spotify-pipeline status for {data['user']}", show_header=False)
    table.add_row("raw zone", data["raw_zone"])
    table.add_row("warehouse", data["warehouse"])
    for name, value in data["counts"].items():
        if name != "open_gaps":  # listed below, once
            table.add_row(name.replace("_", " "), f"{value:,}")
    for kind, last in data["last_fetch"].items():
        table.add_row(f"last fetch {kind.replace('_', ' ')}", _fetch_line(last))
    token = data["token"]
    if token.get("logged_in"):
        table.add_row("refresh token", f"{token['refresh_token_days_left']} days left")
    else:
        table.add_row("refresh token", token.get("problem", "not logged in"))
    paused = f"{when(data['paused_until'])}: {data['pause_reason']}" if data["paused_until"] else "no"
    table.add_row("paused", paused)
    table.add_row("open gaps", str(len(data["open_gaps"])))
    console.print(table)
    for gap in data["open_gaps"]:
        length = (datetime.fromisoformat(gap["to"]) - datetime.fromisoformat(gap["from"])).total_seconds()
        console.print(
            f"open gap: {when(gap['from'])} .. {when(gap['to'])} ({duration_text(length)}): "
            "plays in it were missed; import your privacy export (`spotify-pipeline import-history`) to close it"
        )
    for warning in [token.get("warning"), *data["warnings"]]:
        if warning:
            console.print(Text.assemble(("warning:", "yellow"), " ", warning))


def doctor(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Check settings, warehouse, raw zone, login, last fetch and pause; say how to fix each."""
    data = call(doctor_job.doctor, settings(ctx, warehouse_must_exist=False, raw_zone_must_exist=False))
    if as_json:
        print_json(data)
    else:
        table = Table(title="settings (value: source)", show_header=False)
        for row in data["settings"]:
            value = "" if row["value"] is None else str(row["value"])
            table.add_row(row["name"], value, row["source"])
        console.print(table)
        for check in data["checks"]:
            line = Text.assemble(
                (f"{check['level']:>7}", LEVEL_STYLE[check["level"]]), f"  {check['name']}: {check['detail']}"
            )
            if check["fix"] and check["level"] != "ok":
                line.append(f" -> {check['fix']}")
            console.print(line)
    if not data["ok"]:
        raise typer.Exit(1)
