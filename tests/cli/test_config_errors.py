"""Typos must not succeed silently: paths that do not exist, unknown keys, unsafe names, and every
config error naming where the value came from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.cli.conftest import Cli, assert_one_line_failure

from spotify_pipeline.errors import ConfigError
from spotify_pipeline.settings import load_settings


def test_status_never_creates_a_warehouse_at_a_mistyped_path(cli: Cli, tmp_path: Path) -> None:
    missing = tmp_path / "nonexistent" / "dir" / "w.db"
    cli.init()
    cli.env(warehouse_url=f"sqlite:///{missing}")
    for command in (["status"], ["process"], ["coverage"], ["db", "upgrade"]):
        assert_one_line_failure(cli(*command), f"no warehouse at {missing}", "spotify-pipeline init")
    cli("run")  # lands first (here it stops at the missing login); it never creates the warehouse
    assert not missing.parent.exists()
    assert cli("init").exit_code == 0  # the one command that creates it
    assert missing.is_file()
    assert cli("status").exit_code == 0


def test_commands_never_create_a_mistyped_raw_zone(cli: Cli, tmp_path: Path) -> None:
    cli.init()
    cli.env(raw_zone=str(tmp_path / "raw-typo"))
    for command in (["status"], ["process"], ["fetch", "recent"]):
        assert_one_line_failure(cli(*command), "no raw zone at", "raw-typo")
    assert not (tmp_path / "raw-typo").exists()


@pytest.mark.parametrize("value", ["", "   ", " ./raw", "FILE"])
def test_a_raw_zone_that_is_empty_blank_or_a_file_is_refused(cli: Cli, tmp_path: Path, value: str) -> None:
    if value == "FILE":
        value = str(tmp_path / "a-file")
        Path(value).write_text("not a folder")
    cli.env(raw_zone=value)
    assert_one_line_failure(cli("init"), "raw_zone", "SPOTIFY_PIPELINE_RAW_ZONE")


@pytest.mark.parametrize("user", ["../other", "a/b", "..", ".hidden", "x\\y", "a b", ""])
def test_a_path_unsafe_user_name_is_refused(cli: Cli, user: str) -> None:
    cli.env(user=user)
    assert_one_line_failure(cli("init"), "user", "not a safe name")


def test_errors_name_the_environment_variable(cli: Cli) -> None:
    cli.env(max_retries="many")
    assert_one_line_failure(
        cli("init"), "max_retries", "set by environment variable SPOTIFY_PIPELINE_MAX_RETRIES"
    )


def test_errors_name_the_dotenv_file(cli: Cli) -> None:
    (cli.root / ".env").write_text("SPOTIFY_PIPELINE_MAX_RETRIES=many\n")
    assert_one_line_failure(cli("init"), "max_retries", str(cli.root / ".env"))


def test_errors_name_the_toml_file_and_key(cli: Cli) -> None:
    (cli.root / "spotify-pipeline.toml").write_text("max_retries = -3\n")
    assert_one_line_failure(cli("init"), "spotify-pipeline.toml key max_retries")


def test_near_misses_get_a_did_you_mean(cli: Cli) -> None:
    (cli.root / "spotify-pipeline.toml").write_text('warehouse_ulr = "sqlite:///x.db"\n')
    assert_one_line_failure(cli("status"), "warehouse_ulr", "did you mean warehouse_url?")
    (cli.root / "spotify-pipeline.toml").unlink()
    cli.env(enrich_treshold="5")
    assert_one_line_failure(
        cli("status"), "SPOTIFY_PIPELINE_ENRICH_TRESHOLD", "did you mean SPOTIFY_PIPELINE_ENRICH_THRESHOLD?"
    )


def test_unrelated_keys_in_a_shared_dotenv_are_ignored(cli: Cli) -> None:
    (cli.root / ".env").write_text(
        "DATABASE_URL=postgres://x\nOTHER_APP_TOKEN=abc\nSPOTIFY_PIPELINE_USER=dot\n"
    )
    result = cli("config", "show", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["user"] == "dot"
    (cli.root / ".env").write_text("SPOTIFY_PIPELINE_USR=dot\n")
    assert_one_line_failure(
        cli("config", "show"), "SPOTIFY_PIPELINE_USR", "did you mean SPOTIFY_PIPELINE_USER?"
    )


def test_the_environment_wins_over_dotenv_over_toml(cli: Cli) -> None:
    (cli.root / "spotify-pipeline.toml").write_text('user = "toml"\nenrich_threshold = 7\nmax_retries = 2\n')
    (cli.root / ".env").write_text("SPOTIFY_PIPELINE_USER=dotenv\nSPOTIFY_PIPELINE_ENRICH_THRESHOLD=8\n")
    cli.env(user="environment")
    data = json.loads(cli("config", "show", "--json").stdout)
    assert (data["user"], data["enrich_threshold"], data["max_retries"]) == ("environment", 8, 2)
    table = cli("config", "show").stdout
    assert "environment variable SPOTIFY_PIPELINE_USER" in table
    assert "spotify-pipeline.toml key max_retries" in table


@pytest.mark.parametrize("where", ["before", "after", "equals-after"])
def test_config_is_accepted_before_or_after_the_command(cli: Cli, where: str) -> None:
    cfg = cli.root / "custom.toml"
    cfg.write_text("enrich_threshold = 9\n")
    args = {
        "before": ["--config", str(cfg), "config", "show", "--json"],
        "after": ["config", "show", "--json", "--config", str(cfg)],
        "equals-after": ["config", "show", f"--config={cfg}", "--json"],
    }[where]
    result = cli(*args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["enrich_threshold"] == 9
    # ... and it does not leak into the next invocation of the same process
    assert json.loads(cli("config", "show", "--json").stdout)["enrich_threshold"] == 50


def test_load_settings_names_unknown_arguments() -> None:
    with pytest.raises(ConfigError, match="did you mean enrich_threshold"):
        load_settings(enrich_treshold=3)
