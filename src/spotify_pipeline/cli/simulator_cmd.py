"""`spotify-pipeline simulator serve|export`: the bundled Spotify Web API simulator on 127.0.0.1,
and its ground truth written as a privacy export to try `import-history` with."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from .. import simulator
from ..simulator.profiles import Profile
from .common import console, fail

app = typer.Typer(help="The bundled Spotify Web API simulator.", no_args_is_help=True)
# Spotify's own folder names inside the "Download your data" zip.
EXPORT_FOLDERS = {"account": "Spotify Account Data", "extended": "Spotify Extended Streaming History"}

SeedOpt = Annotated[int, typer.Option("--seed", help="The same seed gives the same catalog and listeners")]
ProfileOpt = Annotated[Profile, typer.Option("--profile", help="The simulated listener's habits")]


def stable_client_id(seed: int) -> str:
    """The simulator app's client id: the same for the same seed, so restarts keep the settings valid."""
    return hashlib.sha256(f"spotify-pipeline-simulator:{seed}".encode()).hexdigest()[:32]


@app.command()
def serve(
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="Port on 127.0.0.1 (0 picks a free one)")
    ] = 0,
    seed: SeedOpt = 7,
    mode: Annotated[str, typer.Option("--mode", help="development or extended")] = "development",
    user: Annotated[list[str] | None, typer.Option("--user", help="Simulated listener (repeatable)")] = None,
    profile: ProfileOpt = Profile.TYPICAL,
    client_id: Annotated[
        str | None, typer.Option("--client-id", help="The app's client id (default: fixed for the seed)")
    ] = None,
) -> None:
    """Serve the simulator until interrupted. The first line printed is one JSON object with
    accounts_url, api_url, client_id, client_secret and redirect_uri."""
    if mode not in ("development", "extended"):
        fail(f"--mode {mode!r}: use development or extended")
    # Looked up on the package at call time, so tests can stand in for the server.
    simulator.serve_forever_cli(
        port=port,
        seed=seed,
        mode=mode,
        users=user or ["me"],
        profile=profile.value,
        client_id=client_id or stable_client_id(seed),
    )


def _day(value: str, option: str) -> datetime:
    try:
        return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        fail(f"{option} {value!r}: use a date like 2026-11-01")


@app.command()
def export(
    folder: Annotated[Path, typer.Argument(help="Where to write the export (created; must be empty)")],
    user: Annotated[str, typer.Option("--user", help="Simulated listener")] = "me",
    profile: ProfileOpt = Profile.TYPICAL,
    seed: SeedOpt = 7,
    start: Annotated[
        str | None, typer.Option("--start", help="First UTC day, YYYY-MM-DD (default: 30 days ago)")
    ] = None,
    end: Annotated[
        str | None, typer.Option("--end", help="Day after the last, YYYY-MM-DD (default: today)")
    ] = None,
) -> None:
    """Write the simulator's truth for a user and period as both privacy-export formats."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    first = _day(start, "--start") if start else today - timedelta(days=30)
    last = _day(end, "--end") if end else today
    if last <= first:
        fail(f"--end {last.date()} is not after --start {first.date()}")
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        fail(f"{folder} exists and is not an empty folder: choose a new one")
    sim = simulator.Simulator(simulator.SimulatorConfig(seed=seed))
    sim.add_user(user, profile=profile.value, since=first)
    written = 0
    for kind, name in EXPORT_FOLDERS.items():
        target = folder / name
        target.mkdir(parents=True, exist_ok=True)
        written += len(sim.write_export(user, target, kind=kind, start=first, end=last))
    console.print(
        f"wrote {written} files of {user}'s plays from {first.date()} to {last.date()} (exclusive) to {folder}, "
        "in both formats (account data and extended streaming history)"
    )
    console.print(f"next: spotify-pipeline import-history {folder}")
