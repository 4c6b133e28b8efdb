"""`fetch recent|following`, `run` and `pause clear` on hostile input and faults:
the database down, absurd hours, Ctrl-C, a pause to clear. CliRunner against the
simulator served on a loopback port."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from tests.cli import test_commands as cli_base
from typer.testing import CliRunner

from spotify_pipeline.cli.main import app
from spotify_pipeline.landing.decode import stored_json
from spotify_pipeline.simulator import Simulator

runner = CliRunner()
cli_world = cli_base.served  # the served-simulator fixture, under this module's name
_login = cli_base._login


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _plays_landed(raw: Path) -> int:
    objects = sorted((raw / "recently_played").glob("*.json.gz"))
    return sum(
        len(f["response"]["items"])
        for o in objects
        for f in json.loads(stored_json(o.read_bytes(), o.name))["fetches"]
    )


@pytest.mark.parametrize(
    "broken",
    ["mysql+pymysql://root@127.0.0.1:{port}/spotify", "sqlite:///{tmp}/a-file/w.db"],
    ids=["mariadb-closed-port", "sqlite-under-a-file"],
)
def test_fetch_recent_lands_with_the_database_down_and_process_catches_up(
    cli_world: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, broken: str
) -> None:
    _login(monkeypatch)
    (tmp_path / "a-file").write_text("not a folder")
    monkeypatch.setenv("SPOTIFY_PIPELINE_WAREHOUSE_URL", broken.format(port=_closed_port(), tmp=tmp_path))
    result = runner.invoke(app, ["fetch", "recent"])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert "landed 50 plays at" in result.stdout
    assert "the warehouse is unreachable (" in result.stdout
    assert "bookkeeping will catch up on the next run" in result.stdout
    assert _plays_landed(tmp_path / "raw") == 50
    notes = list((tmp_path / "raw" / "_bookkeeping" / "cli-user").glob("*.json"))
    assert len(notes) == 1

    result = runner.invoke(app, ["run"])  # still down: lands again, says so once, exits non-zero
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "process: failed - not run: the warehouse is unreachable" in result.stdout

    monkeypatch.setenv("SPOTIFY_PIPELINE_WAREHOUSE_URL", f"sqlite:///{tmp_path / 'w.db'}")
    result = runner.invoke(app, ["process", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["counts"]["bookkeeping_caught_up"] == 2 and report["counts"]["plays_inserted"] == 50
    assert not list((tmp_path / "raw" / "_bookkeeping" / "cli-user").glob("*.json"))
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'w.db'}")
    with engine.connect() as conn:
        runs = conn.execute(
            sa.text("SELECT status, items, message FROM fetch_runs ORDER BY started_at")
        ).all()
    engine.dispose()
    assert [(r[0], r[1]) for r in runs] == [("ok", 50), ("ok", 50)]
    assert all("recorded late: the warehouse was unreachable" in r[2] for r in runs)


@pytest.mark.parametrize(
    ("hour", "says"),
    [
        ("0001-01-01T00", "cannot name a raw object"),
        ("2007-12-31T23", "cannot name a raw object"),
        ("9999-12-31T23", "cannot name a raw object"),
        ("yesterday", "is not an hour"),
        ("2026-13-01T00", "is not an hour"),
    ],
)
def test_an_implausible_hour_is_one_line(
    cli_world: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hour: str, says: str
) -> None:
    _login(monkeypatch)
    result = runner.invoke(app, ["fetch", "recent", "--hour", hour])
    assert result.exit_code != 0 and "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and says in lines[0] and "error:" in lines[0], result.output
    assert not (tmp_path / "raw" / "recently_played").exists()  # nothing landed under a bad name


def test_a_day_ahead_is_accepted(
    cli_world: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _login(monkeypatch)
    tomorrow = datetime.now(UTC) + timedelta(hours=20)
    result = runner.invoke(app, ["fetch", "recent", "--hour", tomorrow.strftime("%Y-%m-%dT%H")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "raw" / "recently_played" / f"{tomorrow:%Y%m%d%H}.json.gz").exists()


@pytest.mark.parametrize("signal_name", ["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("command", [["fetch", "recent"], ["fetch", "following"], ["run"]])
def test_ctrl_c_is_one_line_and_leaves_no_run_running(
    cli_world: Simulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    command: list[str],
    signal_name: str,
) -> None:
    import os
    import signal

    from spotify_pipeline.spotify.client import SpotifyClient

    _login(monkeypatch)
    assert runner.invoke(app, ["init"]).exit_code == 0

    def interrupted(self: SpotifyClient, *args: object, **kwargs: object) -> object:
        os.kill(os.getpid(), getattr(signal, signal_name))  # as Ctrl-C, or as cron's / systemd's stop
        raise AssertionError("the signal should have interrupted the fetch")

    monkeypatch.setattr(SpotifyClient, "recently_played", interrupted)
    monkeypatch.setattr(SpotifyClient, "followed_artists", interrupted)
    result = runner.invoke(app, command)
    assert result.exit_code == 130
    assert result.output.strip().splitlines() == [
        f"error: interrupted: {' '.join(command)} stopped; what was landed is kept and the next run catches up"
    ]
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'w.db'}")
    with engine.connect() as conn:
        statuses = conn.execute(sa.text("SELECT status FROM fetch_runs")).scalars().all()
    engine.dispose()
    assert statuses == ["interrupted"]


def test_pause_clear_shows_the_pause_and_ends_it(
    cli_world: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _login(monkeypatch)
    result = runner.invoke(app, ["pause", "clear"])
    assert result.exit_code == 0 and "no pause was in force" in result.output
    cli_world.faults.add(path_prefix="/v1/me/player/recently-played", kind="penalty", retry_after=99999999999)
    result = runner.invoke(app, ["fetch", "recent"])
    assert result.exit_code == 0 and "paused" in result.output and "max_pause_seconds" in result.output
    status = json.loads(runner.invoke(app, ["status", "--json"]).stdout)
    until = datetime.fromisoformat(status["paused_until"])
    assert until <= datetime.now(UTC) + timedelta(days=1, minutes=1)  # not the year 5195
    result = runner.invoke(app, ["pause", "clear"])
    assert result.exit_code == 0, result.output
    assert f"cleared the pause until {status['paused_until']}" in result.stdout
    assert json.loads(runner.invoke(app, ["status", "--json"]).stdout)["paused_until"] is None
    cli_world.faults.clear()
    result = runner.invoke(app, ["fetch", "recent"])
    assert result.exit_code == 0 and "landed 50 plays" in result.output


def test_pause_clear_with_the_database_down_is_one_line(
    cli_world: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPOTIFY_PIPELINE_WAREHOUSE_URL", f"mysql+pymysql://root@127.0.0.1:{_closed_port()}/x")
    result = runner.invoke(app, ["pause", "clear"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.count("\n") == 1 and "cannot connect" in result.output
