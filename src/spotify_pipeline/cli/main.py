"""`spotify-pipeline`: the command-line face. Every command is a few lines around a job."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from . import auth_cmd, config_cmd, demo_cmd, history_cmd, simulator_cmd, stats_cmd
from .common import STATE, call, console, err_console, print_json, settings

app = typer.Typer(
    name="spotify-pipeline",
    help="Keep a complete record of what you listen to on Spotify: poll, land raw JSON, load into SQL.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
fetch_app = typer.Typer(
    help="Fetch from Spotify and land the raw answers in the raw zone.", no_args_is_help=True
)
db_app = typer.Typer(help="Warehouse schema.", no_args_is_help=True)
app.add_typer(auth_cmd.app, name="auth")
app.add_typer(config_cmd.app, name="config")
app.add_typer(fetch_app, name="fetch")
app.add_typer(db_app, name="db")
app.add_typer(simulator_cmd.app, name="simulator")
app.command("demo")(demo_cmd.demo)
app.command("import-history")(history_cmd.import_history)
app.command("coverage")(history_cmd.coverage)
app.command("stats")(stats_cmd.stats)
app.add_typer(stats_cmd.export_app, name="export")


@app.callback()
def main(
    config: Annotated[
        Path | None, typer.Option("--config", help="TOML config file (default ./spotify-pipeline.toml)")
    ] = None,
) -> None:
    STATE.config_file = config
    STATE.settings = None


def _report(report: object, as_json: bool) -> None:
    from ..jobs.report import JobReport

    assert isinstance(report, JobReport)
    if as_json:
        print_json(report.to_dict())
    else:
        style = {"ok": "green", "paused": "yellow", "skipped": "yellow", "partial": "yellow"}.get(
            report.status, "red"
        )
        console.print(f"[{style}]{report.summary()}[/]", highlight=False)
        for problem in report.problems:
            err_console.print(f"[yellow]warning:[/] {problem}", highlight=False)
    if report.status == "failed":
        raise typer.Exit(1)


JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object")]
HourOpt = Annotated[
    datetime | None,
    typer.Option(
        "--hour",
        help="UTC hour the raw object is named after (default: now)",
        formats=["%Y-%m-%dT%H", "%Y%m%d%H"],
    ),
]


@app.command()
def init() -> None:
    """Create the raw zone folder and the warehouse schema (runs the migrations)."""
    from ..warehouse.engine import current_revision

    s = settings()
    from ..jobs.runtime import migrated_engine

    engine = call(migrated_engine, s.warehouse_url.get_secret_value())
    if not s.is_s3:
        Path(s.raw_zone).mkdir(parents=True, exist_ok=True)
    console.print(f"raw zone:  {s.raw_zone}")
    console.print(f"warehouse: {s.masked()['warehouse_url']} (schema {current_revision(engine)})")
    console.print("next: `spotify-pipeline auth login`, then `spotify-pipeline run` from cron or Airflow")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the Alembic migrations to the warehouse."""
    from ..jobs.runtime import migrated_engine
    from ..warehouse.engine import current_revision

    s = settings()
    engine = call(migrated_engine, s.warehouse_url.get_secret_value())
    console.print(f"warehouse {s.masked()['warehouse_url']} is at revision {current_revision(engine)}")


@fetch_app.command("recent")
def download_recently_played(hour: HourOpt = None, as_json: JsonOpt = False) -> None:
    """Fetch the latest 50 plays and merge them into recently_played/YYYYMMDDHH.json."""
    from ..jobs import download_recently_played as job

    _report(call(job, settings(), hour=hour.replace(tzinfo=UTC) if hour else None), as_json)


@fetch_app.command("following")
def download_followed_artists(hour: HourOpt = None, as_json: JsonOpt = False) -> None:
    """Fetch every followed artist and merge them into following_artists/YYYYMMDDHH.json."""
    from ..jobs import download_followed_artists as job

    _report(call(job, settings(), hour=hour.replace(tzinfo=UTC) if hour else None), as_json)


@app.command()
def process(as_json: JsonOpt = False) -> None:
    """Load every landed raw object the manifest does not list yet; quarantine malformed ones."""
    from ..jobs import process as job

    _report(call(job, settings()), as_json)


@app.command()
def enrich(
    force: Annotated[
        bool, typer.Option("--force/--threshold", help="Look up now, or only past the threshold")
    ] = True,
    as_json: JsonOpt = False,
) -> None:
    """Look up artists, albums (and audio features where the app may) seen in plays, each id once."""
    from ..jobs import enrich as job

    _report(call(job, settings(), force=force), as_json)


@app.command()
def run(as_json: JsonOpt = False) -> None:
    """One full cycle for cron: fetch recent, followed artists once a day, process, enrich past the threshold."""
    from ..jobs import run_all

    reports = call(run_all, settings())
    if as_json:
        print_json([r.to_dict() for r in reports])
    else:
        for r in reports:
            _report(r, False)
    if any(r.status == "failed" for r in reports):
        raise typer.Exit(1)


@app.command()
def rebuild(
    target_url: Annotated[
        str | None,
        typer.Option(
            "--target-url", help="Build into this empty database instead of replacing the warehouse"
        ),
    ] = None,
    yes: Annotated[
        bool, typer.Option("--yes", help="Replace the configured warehouse without asking")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Recreate the warehouse from the raw zone and the recorded export imports."""
    from ..jobs.rebuild import rebuild as job

    s = settings()
    if target_url is None and not yes:
        typer.confirm(
            f"Drop and rebuild {s.masked()['warehouse_url']} from {s.raw_zone}?", abort=True, err=True
        )
    _report(call(job, s, target_url=target_url), as_json)


@app.command()
def status(as_json: JsonOpt = False) -> None:
    """Counts, last fetches, open gaps, token expiry and any rate-limit pause."""
    from ..jobs.status import status as job

    data = call(job, settings())
    if as_json:
        print_json(data)
        return
    table = Table(title=f"spotify-pipeline status for {data['user']}", show_header=False)
    table.add_row("raw zone", data["raw_zone"])
    table.add_row("warehouse", data["warehouse"])
    for name, value in data["counts"].items():
        table.add_row(name, str(value))
    for kind, last in data["last_fetch"].items():
        table.add_row(f"last fetch {kind}", str(last) if last else "never")
    token = data["token"]
    if token.get("logged_in"):
        table.add_row("refresh token", f"{token['refresh_token_days_left']} days left")
    else:
        table.add_row("refresh token", token.get("problem", "not logged in"))
    table.add_row("paused until", data["paused_until"] or "-")
    table.add_row("open gaps", str(len(data["open_gaps"])))
    console.print(table)
    for gap in data["open_gaps"]:
        err_console.print(f"[yellow]open gap:[/] {gap['from']} .. {gap['to']}", highlight=False)
    if token.get("warning"):
        err_console.print(f"[yellow]warning:[/] {token['warning']}", highlight=False)


if __name__ == "__main__":  # pragma: no cover
    app()
