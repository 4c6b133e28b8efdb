"""The docs are tested: every command, setting and make target the README names must exist, and
every command and setting that exists must be in the README."""

from __future__ import annotations

import re

import typer.main
from tests.conftest import ROOT

from spotify_pipeline.cli.main import app
from spotify_pipeline.settings import Settings

README = (ROOT / "README.md").read_text(encoding="utf-8")


def _commands(group: typer.Typer, prefix: str = "spotify-pipeline") -> set[str]:
    click_group = typer.main.get_command(group)
    out: set[str] = set()

    def walk(cmd, path: str) -> None:  # noqa: ANN001
        subs = getattr(cmd, "commands", None)
        if subs:
            for name, sub in subs.items():
                walk(sub, f"{path} {name}")
        else:
            out.add(path)

    walk(click_group, prefix)
    return out


def test_every_command_has_a_readme_section() -> None:
    documented = set(re.findall(r"^### `(spotify-pipeline[^`]*?)(?: [A-Z]+)?`", README, flags=re.M))
    missing = _commands(app) - documented
    assert not missing, f"commands without a README section: {sorted(missing)}"


def test_readme_documents_no_command_that_does_not_exist() -> None:
    documented = set(re.findall(r"^### `(spotify-pipeline[^`]*?)(?: [A-Z]+)?`", README, flags=re.M))
    assert documented <= _commands(app)


def test_every_setting_is_in_the_readme_table() -> None:
    table = set(re.findall(r"^\| `([a-z0-9_]+)`", README, flags=re.M))
    table |= {
        n for row in re.findall(r"^\| `([a-z0-9_]+)` / `([a-z0-9_]+)`", README, flags=re.M) for n in row
    }
    missing = set(Settings.model_fields) - table
    assert not missing, f"settings missing from the README table: {sorted(missing)}"


def test_make_targets_in_readme_exist() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([a-z-]+):", makefile, flags=re.M))
    named = set(re.findall(r"`make ([a-z-]+)`", README)) | set(
        re.findall(r"^make ([a-z-]+)", README, flags=re.M)
    )
    assert {"demo", "test"} <= named
    assert named <= targets, f"README names missing make targets: {sorted(named - targets)}"


def test_ci_runs_the_readme_test_command() -> None:
    assert "make test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
