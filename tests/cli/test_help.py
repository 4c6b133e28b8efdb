"""`--help` is the reference: every option and argument says what it is for, choices come from the
code that owns them, and paths that must exist are checked before any work."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer.main
from tests.cli.conftest import Cli

from spotify_pipeline.cli.main import app
from spotify_pipeline.simulator import PROFILES


def _flat(text: str) -> str:
    """Typer's usage-error box without its frame and line breaks (a long path wraps inside it)."""
    return "".join(ch for ch in text if not ch.isspace() and ch not in "│╭╮╰╯─")


def _leaves() -> dict[str, typer.main.click.Command]:
    out: dict[str, typer.main.click.Command] = {}

    def walk(cmd, path: str) -> None:  # noqa: ANN001
        subs = getattr(cmd, "commands", None)
        if subs:
            for name, sub in subs.items():
                walk(sub, f"{path} {name}".strip())
        else:
            out[path] = cmd

    walk(typer.main.get_command(app), "")
    return out


def test_every_option_and_argument_has_help() -> None:
    root = typer.main.get_command(app)
    undocumented = [f"(global) {p.name}" for p in root.params if not getattr(p, "help", None)]
    for path, cmd in _leaves().items():
        undocumented += [f"{path} {p.name}" for p in cmd.params if not getattr(p, "help", None)]
    assert not undocumented, f"give these help=: {undocumented}"


@pytest.mark.parametrize("command", [("demo",), ("simulator", "serve"), ("simulator", "export", "x")])
def test_profiles_are_the_simulators_and_a_wrong_one_is_refused(cli: Cli, command: tuple[str, ...]) -> None:
    result = cli(*command, "--profile", "nope")
    assert result.exit_code == 2, result.output
    error = _flat(result.stderr)
    assert "'--profile'" in error and "'nope'isnotoneof" in error
    assert all(f"'{p}'" in error for p in PROFILES)  # the simulator's own list, in its order
    assert error.index("'light'") < error.index("'typical'") < error.index("'heavy'") < error.index("'binge'")


def test_a_legacy_folder_that_does_not_exist_is_refused_before_anything(cli: Cli) -> None:
    result = cli("config", "import-legacy", str(cli.root / "no-such-folder"))
    assert result.exit_code == 2
    error = _flat(result.stderr)
    assert (
        "'DIR'" in error
        and f"{cli.root}/no-such-folder".replace(" ", "") in error
        and "doesnotexist" in error
    )
    assert not (cli.root / ".env").exists()
    (cli.root / "a-file").write_text("")
    assert cli("config", "import-legacy", str(cli.root / "a-file")).exit_code == 2  # a folder is needed


def test_an_export_that_does_not_exist_is_refused_before_anything(cli: Cli) -> None:
    result = cli("import-history", str(cli.root / "gone.zip"))
    assert result.exit_code == 2
    error = _flat(result.stderr)
    assert "'PATH'" in error and f"{cli.root}/gone.zip".replace(" ", "") in error and "doesnotexist" in error


def test_one_invocations_config_file_does_not_reach_the_next(cli: Cli, tmp_path: Path) -> None:
    custom = tmp_path / "custom.toml"
    custom.write_text("enrich_threshold = 7\n")
    first = cli("--config", str(custom), "config", "show", "--json")
    assert json.loads(first.stdout)["enrich_threshold"] == 7
    second = cli("config", "show", "--json")
    assert json.loads(second.stdout)["enrich_threshold"] != 7
