"""What a person (or cron) reads: logs without chatter, no wrapping in files, names printed as they
are, a readable `status`, `doctor`, and the smaller promises (simulator export, logout, config show, coverage)."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.cli.conftest import Cli, assert_one_line_failure

from spotify_pipeline.cli.common import CHATTY_LOGGERS, setup_logging
from spotify_pipeline.settings import Settings
from spotify_pipeline.warehouse import gaps, runs
from spotify_pipeline.warehouse.engine import make_engine

SRC = Path(__file__).resolve().parents[2] / "src"


def _run(cli: Cli, *args: str) -> subprocess.CompletedProcess[str]:
    """The real program in a subprocess: stdout and stderr are pipes, not terminals (as under cron)."""
    env = {**os.environ, "PYTHONPATH": str(SRC), "COLUMNS": "80"}
    return subprocess.run(
        [sys.executable, "-m", "spotify_pipeline.cli.main", *args],
        cwd=cli.root, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


# --- item 14: logs fit cron ------------------------------------------------------------------


@pytest.mark.parametrize(("level", "chatty"), [("INFO", False), ("WARNING", False), ("DEBUG", True)])
def test_libraries_narrate_only_at_debug(level: str, chatty: bool) -> None:
    setup_logging(Settings(log_level=level))  # type: ignore[arg-type]
    for name in (*CHATTY_LOGGERS, "alembic.runtime.plugins", "alembic.runtime.migration"):
        assert logging.getLogger(name).isEnabledFor(logging.INFO) is chatty, name


def test_init_logs_no_alembic_lines_at_info(cli: Cli) -> None:
    result = _run(cli, "init")
    assert result.returncode == 0, result.stderr
    assert "alembic" not in result.stderr, result.stderr


def test_no_wrapping_at_80_columns_when_not_a_terminal(cli: Cli) -> None:
    deep = cli.root / ("a-long-folder-name-" * 6) / "raw"
    deep.mkdir(parents=True)
    cli.env(raw_zone=str(deep))
    result = _run(cli, "config", "show")
    assert result.returncode == 0, result.stderr
    assert any(str(deep) in line for line in result.stdout.splitlines()), result.stdout
    missing = cli.root / ("another-long-folder-name-" * 5) / "w.db"
    cli.env(warehouse_url=f"sqlite:///{missing}")
    result = _run(cli, "status")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and str(missing) in result.stderr, result.stderr


def test_user_text_is_printed_as_it_is(cli: Cli) -> None:
    raw = cli.root / "exp[old]"
    cli.env(raw_zone=str(raw))
    cli.init()
    result = cli("status")
    assert result.exit_code == 0, result.output
    assert "exp[old]" in result.stdout
    export = cli.root / "export[old]"
    assert (
        cli("simulator", "export", str(export), "--start", "2026-11-01", "--end", "2026-11-02").exit_code == 0
    )
    imported = cli("import-history", str(export))
    assert imported.exit_code == 0, imported.output
    assert f"Import of {export} (ok)" in imported.stdout
    assert_one_line_failure(cli("coverage", "--csv", str(cli.root / "[s3]" / "x.csv")), "[s3]")


# --- item 15: status a person can read, and doctor ------------------------------------------------


def _history(cli: Cli, fetch_age: timedelta) -> None:
    cli.init()
    engine = make_engine(f"sqlite:///{cli.root / 'w.db'}")
    now = datetime.now(UTC)
    with engine.begin() as conn:
        run = runs.start_fetch_run(conn, "me", "recently_played", started_at=now - fetch_age)
        runs.finish_fetch_run(conn, run, finished_at=now - fetch_age, status="ok", api_calls=1, items=50)
        gap = (now - timedelta(days=2), now - timedelta(days=2) + timedelta(hours=4, minutes=20))
        for _ in range(2):  # a re-run records the same gap again: it is one gap
            gaps.record_gap(conn, "me", gap_from=gap[0], gap_to=gap[1], detected_at=now - timedelta(days=1))
    engine.dispose()


def test_status_reads_like_a_sentence(cli: Cli) -> None:
    _history(cli, timedelta(minutes=35))
    result = cli("status")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "datetime.datetime" not in out and "datetime(" not in out
    assert "(35 min ago), ok" in out
    assert out.count("open gap:") == 1 and "(4 h 20 min)" in out
    assert "import your privacy export" in out
    assert sum("open gaps" in line for line in out.splitlines()) == 1  # counted once
    assert "is cron running" not in out
    assert not result.stderr.strip()  # all of it on stdout
    data = json.loads(cli("status", "--json").stdout)
    assert len(data["open_gaps"]) == 1 and data["open_gaps"][0]["from"].endswith("+00:00")
    assert data["last_fetch"]["recently_played"]["status"] == "ok"


def test_status_asks_whether_cron_runs_when_the_last_fetch_is_old(cli: Cli) -> None:
    _history(cli, timedelta(hours=5))
    cli.env(expected_poll_minutes="120")
    out = cli("status").stdout
    assert "5 h ago" in out and "is cron running?" in out


def _logged_in(cli: Cli, consented_days_ago: float) -> None:
    from pydantic import SecretStr

    from spotify_pipeline.spotify.tokens import FileTokenStore, TokenState

    now = datetime.now(UTC)
    FileTokenStore(cli.root / "tokens.json").save(
        TokenState(
            access_token=SecretStr("access-token-for-cli"),
            refresh_token=SecretStr("refresh-token-for-cli"),
            expires_at=now + timedelta(hours=1),
            scope="user-read-recently-played",
            client_id="abc",
            consented_at=now - timedelta(days=consented_days_ago),
        )  # fmt: skip
    )


def test_status_counts_token_days_in_whole_days(cli: Cli) -> None:
    _logged_in(cli, 0)
    cli.init()
    assert "182 days left" in cli("status").stdout
    assert json.loads(cli("status", "--json").stdout)["token"]["refresh_token_days_left"] == 182


def test_doctor_fails_until_initialised_then_names_the_token_fix(cli: Cli) -> None:
    result = cli("doctor")
    assert result.exit_code == 1
    assert "fail  warehouse: no warehouse at" in result.stdout
    assert not (cli.root / "w.db").exists() and not (cli.root / "raw").exists()  # it only looks
    assert "raw_zone" in result.stdout and "environment variable SPOTIFY_PIPELINE_RAW_ZONE" in result.stdout
    cli.init()
    data = json.loads(cli("doctor", "--json").stdout)
    levels = {c["name"]: c["level"] for c in data["checks"]}
    assert levels == {
        "warehouse": "ok",
        "raw zone": "ok",
        "token": "fail",
        "last fetch": "warn",
        "pause": "ok",
    }
    assert data["ok"] is False
    token = next(c for c in data["checks"] if c["name"] == "token")
    assert "auth login" in token["detail"] + token["fix"]


def test_doctor_passes_on_a_working_installation(cli: Cli) -> None:
    _logged_in(cli, 10)
    _history(cli, timedelta(minutes=10))
    result = cli("doctor")
    assert result.exit_code == 0, result.output
    assert "172 days left" in result.stdout
    assert "at head revision" in result.stdout


def test_doctor_names_a_warehouse_that_does_not_answer(cli: Cli) -> None:
    cli.init()
    cli.env(warehouse_url="mysql+pymysql://u:doctor-secret@127.0.0.1:1/db")
    result = cli("doctor")
    assert result.exit_code == 1
    assert "fail  warehouse: warehouse mysql+pymysql://u:***@127.0.0.1:1/db: cannot connect" in result.stdout
    assert "doctor-secret" not in result.output


# --- item 18 ----------------------------------------------------------------------------------------


def test_simulator_export_writes_both_formats_for_import_history(cli: Cli) -> None:
    out = cli.root / "export"
    result = cli("simulator", "export", str(out), "--start", "2026-11-01", "--end", "2026-11-04")
    assert result.exit_code == 0, result.output
    assert list((out / "Spotify Account Data").glob("StreamingHistory_music_*.json"))
    assert list((out / "Spotify Extended Streaming History").glob("Streaming_History_Audio_*.json"))
    cli.init()
    imported = cli("import-history", str(out), "--json")
    assert imported.exit_code == 0, imported.output
    assert json.loads(imported.stdout)["imported"] > 0
    assert_one_line_failure(cli("simulator", "export", str(out)), "not an empty folder")
    assert_one_line_failure(
        cli("simulator", "export", str(cli.root / "e2"), "--start", "yesterday"), "--start"
    )


def test_the_simulator_client_id_is_stable_unless_given(monkeypatch: pytest.MonkeyPatch, cli: Cli) -> None:
    import spotify_pipeline.simulator as simulator

    seen: list[dict[str, Any]] = []
    monkeypatch.setattr(simulator, "serve_forever_cli", lambda **kw: seen.append(kw))
    for args in ([], [], ["--seed", "8"], ["--client-id", "my-own-id"]):
        assert cli("simulator", "serve", *args).exit_code == 0
    ids = [kw["client_id"] for kw in seen]
    assert ids[0] == ids[1] != ids[2] and ids[3] == "my-own-id"


def test_serve_forever_cli_registers_the_given_client_id() -> None:
    from spotify_pipeline.simulator import serve_forever_cli

    out, stop = io.StringIO(), threading.Event()
    thread = threading.Thread(
        target=serve_forever_cli,
        kwargs={"port": 0, "seed": 7, "mode": "development", "users": ["me"], "profile": "light",
                "out": out, "stop": stop, "client_id": "fixed-client-id"},
    )  # fmt: skip
    thread.start()
    try:
        for _ in range(100):
            if out.getvalue():
                break
            threading.Event().wait(0.05)
        assert json.loads(out.getvalue().splitlines()[0])["client_id"] == "fixed-client-id"
    finally:
        stop.set()
        thread.join(timeout=10)


def test_auth_logout_says_when_there_was_nothing_to_remove(cli: Cli) -> None:
    result = cli("auth", "logout")
    assert result.exit_code == 0
    assert "nothing to remove" in result.stdout


def test_config_show_does_not_cut_values(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """On an 80-column terminal a long value is folded over lines, never cut with an ellipsis."""
    from rich.console import Console

    import spotify_pipeline.cli.config_cmd as config_cmd

    long_value = "s3://a-bucket-with-a-rather-long-name/" + "prefix/" * 20
    cli.env(raw_zone=long_value)
    screen = io.StringIO()
    monkeypatch.setattr(config_cmd, "console", Console(file=screen, width=80, markup=False))
    assert cli("config", "show").exit_code == 0
    out = screen.getvalue()
    assert "…" not in out
    row = [line.split("│")[2].strip() for line in out.splitlines() if line.count("│") == 4]
    assert long_value in "".join(row)


def test_coverage_of_an_export_only_user_is_not_zero_percent(cli: Cli) -> None:
    out = cli.root / "export"
    assert cli("simulator", "export", str(out), "--start", "2026-11-01", "--end", "2026-11-04").exit_code == 0
    cli.init()
    assert cli("import-history", str(out)).exit_code == 0
    rows = json.loads(cli("coverage", "--json").stdout)
    assert rows and all(r["capture_rate"] is None and r["polled"] is False for r in rows)
    table = cli("coverage").stdout
    assert "0.0%" not in table and "polling had not started" in table
