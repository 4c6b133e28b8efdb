"""`spotify-pipeline fetch recent|following` and `spotify-pipeline pause clear`."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from types import FrameType
from typing import Annotated, Any, TypeVar

import typer

from ..jobs import download_followed_artists, download_recently_played
from ..jobs.pause import clear_pause
from ..jobs.report import JobReport
from ..settings import Settings
from ..warehouse.engine import allow_creating_sqlite
from .common import call, console, fail, print_json, report_text, settings, warn

T = TypeVar("T")

app = typer.Typer(help="Fetch from Spotify and land the raw answers in the raw zone.", no_args_is_help=True)
pause_app = typer.Typer(help="The rate-limit pause Spotify's 429 answers leave behind.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object")]
HourOpt = Annotated[
    str | None,
    typer.Option("--hour", help="UTC hour the raw object is named after, YYYY-MM-DDTHH (default: now)"),
]
_HOUR_FORMATS = ("%Y-%m-%dT%H", "%Y%m%d%H")


def parse_hour(text: str | None) -> datetime | None:
    """``--hour`` as an aware UTC datetime; one line naming the value when it is not an hour.
    The plausible range (2008 .. a day ahead) is the job's check, so Airflow gets it too."""
    if text is None:
        return None
    for fmt in _HOUR_FORMATS:
        try:
            return datetime.strptime(text.strip(), fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    fail(f"--hour {text!r} is not an hour: use YYYY-MM-DDTHH in UTC, e.g. 2026-11-29T10", code=2)
    raise AssertionError("unreachable")  # fail() raises


@contextmanager
def interruptible(what: str) -> Iterator[None]:
    """Ctrl-C or SIGTERM: one line and exit 130, never a traceback. SIGTERM is raised as
    KeyboardInterrupt so the jobs' cleanup (no fetch run left ``running``) runs for both."""

    def on_term(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous: Any = None
    main = threading.current_thread() is threading.main_thread()
    if main:
        previous = signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    except KeyboardInterrupt:
        fail(f"interrupted: {what} stopped; what was landed is kept and the next run catches up", code=130)
    finally:
        if main:
            signal.signal(signal.SIGTERM, previous)


def run_interruptible(what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    with interruptible(what):
        return call(fn, *args, **kwargs)


def show(report: JobReport, as_json: bool) -> None:
    """Print a job report; exit 1 when it failed or could not record itself in the warehouse."""
    if as_json:
        print_json(report.to_dict())
    else:
        console.print(report_text(report), highlight=False, soft_wrap=True)
        for problem in report.problems:
            warn(problem)
    if report.status == "failed" or report.counts.get("bookkeeping_deferred"):
        raise typer.Exit(1)


def landing_settings(ctx: typer.Context) -> Settings:
    # A fetch lands before it touches the warehouse: a warehouse that cannot be opened (down, or its
    # file missing) defers the bookkeeping to the next run instead of losing the poll.
    allow_creating_sqlite(False)  # reset by the CLI's edge when the command ends
    return settings(ctx, warehouse_must_exist=False)


@app.command("recent")
def recent(ctx: typer.Context, hour: HourOpt = None, as_json: JsonOpt = False) -> None:
    """Fetch the latest 50 plays and merge them into recently_played/YYYYMMDDHH.json."""
    when = parse_hour(hour)
    report = run_interruptible("fetch recent", download_recently_played, landing_settings(ctx), hour=when)
    show(report, as_json)


@app.command("following")
def following(ctx: typer.Context, hour: HourOpt = None, as_json: JsonOpt = False) -> None:
    """Fetch every followed artist and merge them into following_artists/YYYYMMDDHH.json."""
    when = parse_hour(hour)
    report = run_interruptible("fetch following", download_followed_artists, landing_settings(ctx), hour=when)
    show(report, as_json)


@pause_app.command("clear")
def clear(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """End a rate-limit pause now, so the next run calls Spotify again."""
    cleared = call(clear_pause, settings(ctx))
    if as_json:
        print_json({"cleared": cleared})
    elif cleared is None:
        console.print("no pause was in force; nothing to clear")
    else:
        console.print(
            f"cleared the pause until {cleared['until']} ({cleared['reason']}); "
            "the next run calls Spotify again",
            highlight=False,
            soft_wrap=True,
        )
        warn(
            "Spotify lengthens limits for apps that ignore them: clear a pause only when you know why it was set"
        )
