"""`spotify-pipeline stats`: tables on a terminal with Spotify names escaped, JSON and CSV for
scripts, and one line for each kind of bad input."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from spotify_pipeline.cli.main import app

from .conftest import add_plays, add_track

T1 = "4" * 22
XSS = "[bold red]<img src=x onerror=alert(1)>[/]"


@pytest.fixture()
def cli(engine: Engine, url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    add_track(engine, T1, XSS, [("1" * 22, "[link=x]Artist[/link]")], ("6" * 22, "Album"), 200_000)
    now = datetime.now(UTC)
    add_plays(engine, "u", [{"played_at": now.replace(microsecond=0), "track_id": T1}])
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SPOTIFY_PIPELINE_WAREHOUSE_URL", url)
    monkeypatch.setenv("SPOTIFY_PIPELINE_USER", "u")
    monkeypatch.setenv("SPOTIFY_PIPELINE_TIMEZONE", "UTC")
    monkeypatch.setenv("COLUMNS", "200")  # rich wraps long names in narrow tables
    return CliRunner()


def test_tables_json_csv(cli: CliRunner) -> None:
    table = cli.invoke(app, ["stats", "--period", "all"])
    assert table.exit_code == 0, table.output
    assert XSS in table.output  # a name is text, never markup
    assert "[link=x]Artist[/link]" in table.output
    assert "1 plays" in table.output
    data = json.loads(cli.invoke(app, ["stats", "--json", "--top", "1", "--period", "day"]).stdout)
    assert data["totals"]["plays"] == 1 and data["period"]["name"] == "day"
    assert data["top_tracks"]["by_plays"][0]["name"] == XSS
    rows = list(csv.DictReader(io.StringIO(cli.invoke(app, ["stats", "--csv", "--period", "week"]).stdout)))
    assert rows[0]["list"] == "artists_by_plays" and rows[0]["plays"] == "1"
    assert {r["list"] for r in rows} == {
        f"{k}_{o}" for k in ("artists", "tracks", "albums") for o in ("by_plays", "by_minutes")
    }
    everyone = json.loads(cli.invoke(app, ["stats", "--json", "--user", "*", "--period", "all"]).stdout)
    assert everyone["user"] is None and everyone["totals"]["plays"] == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "2026-13-01"], "--from '2026-13-01' is not a date: write YYYY-MM-DD"),
        (["--to", "yesterday"], "--to 'yesterday' is not a date"),
        (["--from", "2026-12-01", "--to", "2026-11-01"], "--from 2026-12-01 is after --to 2026-11-01"),
        (["--period", "month", "--from", "2026-12-01"], "either --period or --from/--to"),
        (["--period", "decade"], "unknown period 'decade'"),
        (["--user", "nobody"], "unknown user 'nobody': the warehouse holds u"),
        (["--json", "--csv"], "choose one of --json and --csv"),
    ],
)
def test_bad_input_is_one_line(cli: CliRunner, args: list[str], message: str) -> None:
    result = cli.invoke(app, ["stats", *args])
    assert result.exit_code == 1
    assert message in result.output and len(result.output.strip().splitlines()) == 1, result.output


def test_a_warehouse_never_initialised_is_not_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SPOTIFY_PIPELINE_WAREHOUSE_URL", f"sqlite:///{tmp_path / 'none.db'}")
    result = CliRunner().invoke(app, ["stats"])
    assert result.exit_code == 1 and "run `spotify-pipeline init`" in result.output
    assert len(result.output.strip().splitlines()) == 1
