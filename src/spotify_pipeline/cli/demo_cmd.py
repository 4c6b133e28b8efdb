"""`spotify-pipeline demo`: the whole pipeline on a simulated week, no credentials, no network."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress
from rich.table import Table

from ..jobs.demo import DemoResult, demo_settings, run_demo
from ..simulator.profiles import Profile
from .common import call, console, err_console, print_json, warn

EXAMPLE_QUERY = (
    "SELECT p.played_at, t.name, p.artist_name FROM plays p JOIN tracks t ON t.id = p.track_id "
    "ORDER BY p.played_at DESC LIMIT 10"
)


def demo(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
    profile: Annotated[
        Profile, typer.Option("--profile", help="The simulated listener's habits")
    ] = Profile.TYPICAL,
    poll_minutes: Annotated[int, typer.Option("--poll-minutes", min=5, help="Minutes between polls")] = 120,
    days: Annotated[int, typer.Option("--days", min=1, max=366, help="Days of listening to simulate")] = 7,
    seed: Annotated[
        int, typer.Option("--seed", help="The same seed gives the same catalog and listening")
    ] = 7,
    warehouse_url: Annotated[
        str | None, typer.Option("--warehouse-url", help="e.g. mysql+pymysql://root:@127.0.0.1:3306/test")
    ] = None,
    raw_zone: Annotated[str | None, typer.Option("--raw-zone", help="Folder or s3://bucket/prefix")] = None,
    s3_endpoint_url: Annotated[
        str | None, typer.Option("--s3-endpoint-url", help="MinIO or another S3")
    ] = None,
    data_dir: Annotated[Path, typer.Option("--data-dir", help="Where the local demo data goes")] = Path(
        "data/demo"
    ),
) -> None:
    """Simulate a week of listening, poll it every 2 hours, process daily, compare with the truth."""
    # The jobs log every gap and retry; the demo sums them up in its tables instead.
    package_log = logging.getLogger("spotify_pipeline")
    previous_level = package_log.level
    package_log.setLevel(logging.ERROR)
    try:
        _demo(
            as_json,
            profile.value,
            poll_minutes,
            days,
            seed,
            warehouse_url,
            raw_zone,
            s3_endpoint_url,
            data_dir,
        )
    finally:
        package_log.setLevel(previous_level)


def _demo(
    as_json: bool,
    profile: str,
    poll_minutes: int,
    days: int,
    seed: int,
    warehouse_url: str | None,
    raw_zone: str | None,
    s3_endpoint_url: str | None,
    data_dir: Path,
) -> None:
    user = f"demo-{profile}-{poll_minutes}m-s{seed}"
    settings = call(demo_settings, data_dir, warehouse_url, raw_zone, s3_endpoint_url, user)
    local_only = warehouse_url is None and raw_zone is None
    with Progress(console=err_console, transient=True, disable=as_json) as bar:
        task = bar.add_task(f"simulating {days} days, polling every {poll_minutes} min", total=None)
        result = call(
            run_demo,
            settings,
            profile=profile,
            days=days,
            poll_minutes=poll_minutes,
            seed=seed,
            fresh_dir=data_dir if local_only else None,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    if as_json:
        print_json(result.to_dict())
        return
    _print_tables(result, days, profile, poll_minutes)
    _print_where(result, warehouse_url, data_dir)


def _print_tables(result: DemoResult, days: int, profile: str, poll_minutes: int) -> None:
    table = Table(title=f"{days} simulated days, {profile} listener, polled every {poll_minutes} min")
    table.add_column("")
    table.add_column("", justify="right")
    table.add_row("plays the API exposed (ground truth)", str(result.true_plays))
    table.add_row("plays captured in the warehouse", str(result.captured_plays))
    table.add_row("plays missed", str(result.missed_plays))
    table.add_row("  of which inside a detected gap", str(result.missed_plays_inside_gaps))
    table.add_row("  of which late arrivals pushed out between polls", str(result.missed_late_plays))
    table.add_row("duplicate plays", str(result.duplicate_plays))
    table.add_row("gaps detected", str(result.gaps_detected))
    table.add_row("API calls", str(result.api_calls))
    table.add_row("raw objects landed", str(result.raw_objects))
    console.print(table)
    top = Table(title="top artists / tracks")
    top.add_column("artist")
    top.add_column("plays", justify="right")
    top.add_column("track")
    top.add_column("plays", justify="right")
    for i in range(max(len(result.top_artists), len(result.top_tracks))):
        a = result.top_artists[i] if i < len(result.top_artists) else ("", "")
        t = result.top_tracks[i] if i < len(result.top_tracks) else ("", "", "")
        top.add_row(str(a[0]), str(a[1]), f"{t[0]} - {t[1]}" if t[0] else "", str(t[2]))
    console.print(top)
    if result.gaps_detected:
        warn(
            "more than 50 plays happened between two polls. Poll more often (--poll-minutes 20) or close "
            "them with `spotify-pipeline import-history`.",
            f"{result.gaps_detected} gaps detected",
        )
    if result.missed_late_plays:
        warn(
            "(after newer ones) and left the latest 50 before the next poll: no poll can see them. Poll "
            "more often, or recover them with `spotify-pipeline import-history`.",
            f"{result.missed_late_plays} plays arrived late",
        )


def _print_where(result: DemoResult, warehouse_url: str | None, data_dir: Path) -> None:
    console.print(f"raw zone:  {result.raw_zone}")
    console.print(f"warehouse: {result.warehouse}")
    if warehouse_url is None:
        db = data_dir / "warehouse.db"
        console.print(f"query it:  sqlite3 {db} '{EXAMPLE_QUERY}'", highlight=False, soft_wrap=True)
        console.print(f"see it:    spotify-pipeline dashboard --period all --warehouse-url sqlite:///{db.resolve()}",
                      highlight=False, soft_wrap=True)  # fmt: skip
    else:  # never print the URL given: it may hold a password
        console.print(
            "see it:    spotify-pipeline dashboard --period all --warehouse-url <the URL you gave>",
            highlight=False,
        )
