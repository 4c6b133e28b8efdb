"""`spotify-pipeline`: the command-line face. Every command is a few lines around a job."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

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
from .common import STATE, call, console, print_json, settings, warn
from .edge import PipelineGroup

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
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", help="TOML config file (default ./spotify-pipeline.toml); also after the command"
        ),
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
        console.print(Text(report.summary(), style=style), highlight=False)
        for problem in report.problems:
            warn(problem)
    if report.status == "failed":
        raise typer.Exit(1)


JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object")]


@app.command()
def init() -> None:
    """Create the raw zone folder and the warehouse schema (runs the migrations)."""
    from ..jobs.runtime import migrated_engine
    from ..warehouse.engine import DbTimeouts, current_revision

    # The one command that may create the warehouse and the raw zone.
    s = settings(warehouse_must_exist=False, raw_zone_must_exist=False)
    engine = call(migrated_engine, s.warehouse_url.get_secret_value(), DbTimeouts.from_settings(s))
    if not s.is_s3:
        Path(s.raw_zone).mkdir(parents=True, exist_ok=True)
    console.print(f"raw zone:  {s.raw_zone}")
    console.print(f"warehouse: {s.masked()['warehouse_url']} (schema {current_revision(engine)})")
    console.print("next: `spotify-pipeline auth login`, then `spotify-pipeline run` from cron or Airflow")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the Alembic migrations to the warehouse."""
    from ..jobs.runtime import migrated_engine
    from ..warehouse.engine import DbTimeouts, current_revision

    s = settings()
    engine = call(migrated_engine, s.warehouse_url.get_secret_value(), DbTimeouts.from_settings(s))
    console.print(f"warehouse {s.masked()['warehouse_url']} is at revision {current_revision(engine)}")


@app.command()
def process(as_json: JsonOpt = False) -> None:
    """Load every landed raw object the manifest does not list yet; quarantine malformed ones."""
    from ..jobs import process as job
    from .progress import progress_bar

    with progress_bar("loading raw objects", "objects") as bar:
        report = call(job, settings(), progress=bar)
    _report(report, as_json)


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
def run(
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
    from ..jobs import run_all

    if all_users:
        _run_all_users(as_json, parallel)
        return
    reports = fetch_cmd.run_interruptible("run", run_all, fetch_cmd.landing_settings())
    if as_json:
        print_json([r.to_dict() for r in reports])
    else:
        for r in reports:
            _report(r, False)
    if any(r.status == "failed" for r in reports):
        raise typer.Exit(1)


def _run_all_users(as_json: bool, parallel: int | None) -> None:
    from ..jobs.users import run_all_users

    result = fetch_cmd.run_interruptible("run --all-users", run_all_users, settings(), parallel=parallel)
    if as_json:
        print_json(result.to_dict())
    else:
        for user, reports in result.users.items():
            for r in reports:
                console.print(Text(f"[{user}] ") + _styled(r), highlight=False, soft_wrap=True)
                for problem in r.problems:
                    warn(problem)
        for r in result.shared:
            console.print(_styled(r), highlight=False, soft_wrap=True)
    if result.failed:
        raise typer.Exit(1)


def _styled(report: object) -> Text:
    from ..jobs.report import JobReport

    assert isinstance(report, JobReport)
    style = {"ok": "green", "paused": "yellow", "skipped": "yellow", "partial": "yellow"}.get(
        report.status, "red"
    )
    return Text(report.summary(), style=style)


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
    """Recreate the warehouse from the raw zone alone, into a new database swapped in when complete."""
    from ..jobs.rebuild import rebuild as job
    from .progress import progress_bar

    s = settings(warehouse_must_exist=False)  # rebuilding needs only the raw zone
    if target_url is None and not yes:
        typer.confirm(
            f"Replace {s.masked()['warehouse_url']} with a rebuild from {s.raw_zone}?", abort=True, err=True
        )
    with progress_bar("rebuilding", "objects", disable=as_json) as progress:
        report = call(job, s, target_url=target_url, progress=progress)
    _report(report, as_json)


if __name__ == "__main__":  # pragma: no cover
    app()
