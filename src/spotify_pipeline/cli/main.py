"""`spotify-pipeline`: the command-line face. Every command is a few lines around a job."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from ..jobs import enrich as enrich_job
from ..jobs import process as process_job
from ..jobs import run_all
from ..jobs.rebuild import rebuild as rebuild_job
from ..jobs.report import JobReport
from ..jobs.runtime import migrated_engine
from ..jobs.users import run_all_users
from ..warehouse.engine import DbTimeouts, current_revision
from . import (
    auth_cmd,
    config_cmd,
    coverage_cmd,
    dashboard_cmd,
    demo_cmd,
    fetch_cmd,
    history_cmd,
    recommend_cmd,
    simulator_cmd,
    stats_cmd,
    status_cmd,
    users_cmd,
)
from .common import call, cli_state, console, print_json, report_text, settings, warn
from .edge import PipelineGroup
from .progress import progress_bar

app = typer.Typer(
    cls=PipelineGroup,
    name="spotify-pipeline",
    help="Keep a complete record of what you listen to on Spotify: poll, land raw JSON, load into SQL.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(help="Warehouse schema.", no_args_is_help=True)
app.add_typer(auth_cmd.app, name="auth")
app.add_typer(config_cmd.app, name="config")
app.add_typer(fetch_cmd.app, name="fetch")
app.add_typer(fetch_cmd.pause_app, name="pause")
app.add_typer(db_app, name="db")
app.add_typer(simulator_cmd.app, name="simulator")
app.add_typer(users_cmd.app, name="users")
app.command("demo")(demo_cmd.demo)
app.command("import-history")(history_cmd.import_history)
app.command("coverage")(coverage_cmd.coverage)
app.command("recommend")(recommend_cmd.recommend)
app.command("status")(status_cmd.status)
app.command("doctor")(status_cmd.doctor)
app.command("stats")(stats_cmd.stats)
app.add_typer(stats_cmd.export_app, name="export")
app.command("dashboard")(dashboard_cmd.dashboard)


@app.callback()
def main(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", help="TOML config file (default ./spotify-pipeline.toml); also after the command"
        ),
    ] = None,
) -> None:
    state = cli_state(ctx)
    state.config_file, state.settings = config, None


def _report(report: JobReport, as_json: bool) -> None:
    if as_json:
        print_json(report.to_dict())
    else:
        console.print(report_text(report), highlight=False)
        for problem in report.problems:
            warn(problem)
    if report.status == "failed":
        raise typer.Exit(1)


JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object")]


@app.command()
def init(ctx: typer.Context) -> None:
    """Create the raw zone folder and the warehouse schema (runs the migrations)."""
    # The one command that may create the warehouse and the raw zone.
    s = settings(ctx, warehouse_must_exist=False, raw_zone_must_exist=False)
    engine = call(migrated_engine, s.warehouse_url.get_secret_value(), DbTimeouts.from_settings(s))
    if not s.is_s3:
        Path(s.raw_zone).mkdir(parents=True, exist_ok=True)
    console.print(f"raw zone:  {s.raw_zone}")
    console.print(f"warehouse: {s.masked()['warehouse_url']} (schema {current_revision(engine)})")
    console.print("next: `spotify-pipeline auth login`, then `spotify-pipeline run` from cron or Airflow")


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Apply the Alembic migrations to the warehouse."""
    s = settings(ctx)
    engine = call(migrated_engine, s.warehouse_url.get_secret_value(), DbTimeouts.from_settings(s))
    console.print(f"warehouse {s.masked()['warehouse_url']} is at revision {current_revision(engine)}")


@app.command()
def process(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Load every landed raw object the manifest does not list yet; quarantine malformed ones."""
    with progress_bar("loading raw objects", "objects") as bar:
        report = call(process_job, settings(ctx), progress=bar)
    _report(report, as_json)


@app.command()
def enrich(
    ctx: typer.Context,
    force: Annotated[
        bool, typer.Option("--force/--threshold", help="Look up now, or only past the threshold")
    ] = True,
    as_json: JsonOpt = False,
) -> None:
    """Look up artists, albums (and audio features where the app may) seen in plays, each id once."""
    _report(call(enrich_job, settings(ctx), force=force), as_json)


@app.command()
def run(
    ctx: typer.Context,
    as_json: JsonOpt = False,
    all_users: Annotated[
        bool, typer.Option("--all-users", help="Fetch for every listener of `users list`, then load once")
    ] = False,
    parallel: Annotated[
        int | None,
        typer.Option("--parallel", min=1, max=16, help="Listeners fetched at once (users_parallel)"),
    ] = None,
) -> None:
    """One full cycle for cron: fetch recent, followed artists once a day, process, enrich past the threshold."""
    if all_users:
        _run_all_users(ctx, as_json, parallel)
        return
    reports = fetch_cmd.run_interruptible("run", run_all, fetch_cmd.landing_settings(ctx))
    if as_json:
        print_json([r.to_dict() for r in reports])
    else:
        for r in reports:
            _report(r, False)
    if any(r.status == "failed" for r in reports):
        raise typer.Exit(1)


def _run_all_users(ctx: typer.Context, as_json: bool, parallel: int | None) -> None:
    result = fetch_cmd.run_interruptible("run --all-users", run_all_users, settings(ctx), parallel=parallel)
    if as_json:
        print_json(result.to_dict())
    else:
        for user, reports in result.users.items():
            for r in reports:
                console.print(Text(f"[{user}] ") + report_text(r), highlight=False, soft_wrap=True)
                for problem in r.problems:
                    warn(problem)
        for r in result.shared:
            console.print(report_text(r), highlight=False, soft_wrap=True)
    if result.failed:
        raise typer.Exit(1)


@app.command()
def rebuild(
    ctx: typer.Context,
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
    """Recreate the warehouse from the raw zone alone, into a new database swapped in when complete."""
    s = settings(ctx, warehouse_must_exist=False)  # rebuilding needs only the raw zone
    if target_url is None and not yes:
        typer.confirm(
            f"Replace {s.masked()['warehouse_url']} with a rebuild from {s.raw_zone}?", abort=True, err=True
        )
    with progress_bar("rebuilding", "objects", disable=as_json) as progress:
        report = call(rebuild_job, s, target_url=target_url, progress=progress)
    _report(report, as_json)


if __name__ == "__main__":  # pragma: no cover
    app()
