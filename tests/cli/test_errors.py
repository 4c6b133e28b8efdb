"""Bad input and bad configuration end in one line on stderr and a non-zero exit, never a traceback.

The walk enumerates every command of the typer app (as tests/test_docs.py does), so a new command
is covered the day it is added: if it needs arguments, add them to ARGS.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer.main
from tests.cli.conftest import Cli, assert_one_line_failure, error_lines

from spotify_pipeline.cli.main import app


def _commands() -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []

    def walk(cmd, path: tuple[str, ...]) -> None:  # noqa: ANN001
        subs = getattr(cmd, "commands", None)
        if subs:
            for name, sub in subs.items():
                walk(sub, (*path, name))
        else:
            out.append(path)

    walk(typer.main.get_command(app), ())
    return sorted(out)


COMMANDS = _commands()
# Commands that take arguments, or do not read the settings: the bad input they get instead.
ARGS: dict[tuple[str, ...], list[str]] = {
    ("import-history",): ["{tmp}"],
    # an env file that exists (the folder itself) without --force
    ("config", "import-legacy"): ["{tmp}", "--env-file", "{tmp}"],
    ("demo",): ["--days", "1", "--warehouse-url", "notaurl"],
    ("simulator", "serve"): ["--mode", "nope"],
    ("simulator", "export"): ["{tmp}/export", "--start", "nope"],
    ("export", "plays"): ["--format", "csv", "--out", "{tmp}/plays.csv"],
    ("users", "add"): ["bob"],
    ("users", "remove"): ["bob"],
    # an address no socket binds: were the settings ever accepted, it fails in one line, never serves
    ("dashboard",): ["--host", "256.0.0.1", "--port", "0"],
}
BAD_CONFIGS = {
    "not a url": {"warehouse_url": "notaurl"},
    "mysql without driver": {"warehouse_url": "mysql://u:pw@127.0.0.1/db"},
    "unsupported engine": {"warehouse_url": "mssql+pyodbc://u@127.0.0.1/db"},
    "unknown variable": {"warehouse_ulr": "sqlite:///x.db"},
    "unsafe user": {"user": "../other"},
    "blank raw zone": {"raw_zone": "  "},
}


def _args(command: tuple[str, ...], tmp: Path) -> list[str]:
    return [*command, *(a.replace("{tmp}", str(tmp)) for a in ARGS.get(command, []))]


def test_the_walk_sees_every_command() -> None:
    assert len(COMMANDS) >= 20
    assert ("status",) in COMMANDS and ("doctor",) in COMMANDS and ("simulator", "export") in COMMANDS


@pytest.mark.parametrize("bad", sorted(BAD_CONFIGS))
@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_fails_in_one_line(cli: Cli, command: tuple[str, ...], bad: str) -> None:
    cli.env(**BAD_CONFIGS[bad])
    assert_one_line_failure(cli(*_args(command, cli.root)))


def test_a_toml_syntax_error_names_the_file_and_line(cli: Cli) -> None:
    (cli.root / "spotify-pipeline.toml").write_text('user = "me"\nraw_zone = "unclosed\n')
    for command in COMMANDS:
        if command in ARGS:
            continue
        line = assert_one_line_failure(cli(*command))
        assert "spotify-pipeline.toml" in line and "line 2" in line, line


@pytest.fixture()
def silent_server() -> Iterator[int]:
    """A TCP server on 127.0.0.1 that accepts connections and never answers: a stuck database."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                held.append(conn)
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=5)
        for conn in held:
            conn.close()
        server.close()


@pytest.mark.parametrize(
    "command", [["status"], ["process"], ["coverage"], ["db", "upgrade"], ["import-history", "{tmp}"]]
)
def test_a_database_that_never_answers_fails_within_the_timeout(
    cli: Cli, silent_server: int, command: list[str]
) -> None:
    cli.init()
    cli.env(
        warehouse_url=f"mysql+pymysql://spotify:db-secret-pw@127.0.0.1:{silent_server}/spotify",
        db_connect_timeout_seconds="1",
        db_read_timeout_seconds="1",
    )
    started = time.monotonic()
    result = cli(*(a.replace("{tmp}", str(cli.root)) for a in command))
    elapsed = time.monotonic() - started
    line = assert_one_line_failure(result, f"127.0.0.1:{silent_server}/spotify", "db_read_timeout_seconds")
    assert "db-secret-pw" not in result.output
    assert elapsed < 10, f"took {elapsed:.1f} s with 1 s timeouts: {line}"


@pytest.mark.mysql
@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mysql+pymysql://root:wrong-password-1@{host}/mysql", "access denied"),
        ("mysql+pymysql://root:@{host}/sp_no_such_database_x", "create the database"),
        ("mysql+pymysql://root:@127.0.0.1:1/spotify", "cannot connect"),
    ],
    ids=["wrong password", "unknown database", "closed port"],
)
def test_warehouse_connection_failures_are_one_line(
    cli: Cli, mysql_server_url: str, url: str, expected: str
) -> None:
    host = mysql_server_url.rpartition("@")[2]
    cli.init()
    cli.env(warehouse_url=url.format(host=host))
    for command in (["status"], ["process"], ["init"]):
        result = cli(*command)
        line = assert_one_line_failure(result, expected, "warehouse mysql+pymysql://root")
        assert "wrong-password-1" not in result.output, line


def test_a_missing_mysql_driver_says_which_extra_to_install(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "pymysql" else real(name, *a)
    )
    cli.env(warehouse_url="mysql+pymysql://u:pw@127.0.0.1/db")
    assert_one_line_failure(cli("status"), "pip install 'spotify-pipeline[mysql]'", "warehouse_url")


def test_a_missing_boto3_says_which_extra_to_install(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    cli.init()
    monkeypatch.setitem(sys.modules, "boto3", None)  # import boto3 -> ImportError
    monkeypatch.delitem(sys.modules, "spotify_pipeline.landing.s3", raising=False)
    cli.env(raw_zone="s3://bucket/prefix")
    # The brackets of the extra survive: markup is never applied to a message.
    assert_one_line_failure(cli("process"), "pip install 'spotify-pipeline[s3]'")


def test_coverage_csv_onto_a_folder_or_into_a_missing_folder(cli: Cli) -> None:
    cli.init()
    (cli.root / "out").mkdir()
    assert_one_line_failure(cli("coverage", "--csv", str(cli.root / "out")), "is a folder")
    assert_one_line_failure(
        cli("coverage", "--csv", str(cli.root / "gone[s3]" / "c.csv")), "gone[s3]", "does not exist"
    )
    assert not (cli.root / "gone[s3]").exists()
    ok = cli("coverage", "--csv", str(cli.root / "out" / "c.csv"))
    assert ok.exit_code == 0, ok.output


@pytest.mark.mysql
def test_a_demo_rerun_into_a_warehouse_of_another_profile(cli: Cli, mysql_url: str) -> None:
    for profile in ("heavy", "light", "heavy"):
        result = cli("demo", "--json", "--days", "1", "--profile", profile, "--warehouse-url", mysql_url)
        assert result.exit_code == 0, result.output
        assert not error_lines(result), result.stderr


def test_an_unforeseen_error_is_one_line_with_where_to_look(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    import spotify_pipeline.jobs.status as status_job

    def broken(*_a: object, **_k: object) -> None:
        raise ZeroDivisionError("something nobody foresaw")

    cli.init()
    monkeypatch.setattr(status_job, "status", broken)
    assert_one_line_failure(cli("status"), "ZeroDivisionError", "something nobody foresaw", "DEBUG")


def test_ctrl_c_says_interrupted_in_one_line(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    import spotify_pipeline.jobs.status as status_job

    def interrupted(*_a: object, **_k: object) -> None:
        raise KeyboardInterrupt

    cli.init()
    monkeypatch.setattr(status_job, "status", interrupted)
    result = cli("status")
    assert result.exit_code == 130
    assert error_lines(result) == ["interrupted"]
