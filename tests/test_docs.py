"""The docs are tested: every command, setting and make target the README names must exist, and
every command and setting that exists must be in the README."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

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


# --- the repository stands alone ------------------------------------------------------------------

# Built in two parts so this file does not match itself.
OUTSIDE = re.compile(r"\.\./" + r"shared\b|/work/" + r"shared\b")
TEXT_SUFFIXES = {".md", ".py", ".toml", ".txt", ".cfg", ".ini", ".yml", ".yaml", ".sh", ".json", ""}


def _tracked_text_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=False, timeout=60
    )
    assert listed.returncode == 0, f"git ls-files failed: {listed.stderr.strip()}"
    paths = [ROOT / name for name in listed.stdout.split("\0") if name]
    assert len(paths) > 50, "git ls-files listed almost nothing"
    return [p for p in paths if p.suffix in TEXT_SUFFIXES and p.is_file()]


def test_no_tracked_file_points_outside_the_repository() -> None:
    offenders = []
    for path in _tracked_text_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), start=1):
            if OUTSIDE.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders, (
        "links outside the repository (use docs/architecture.md or docs/spotify-api.md):\n"
        + ("\n".join(offenders))
    )


def test_every_cited_section_of_spotify_api_md_exists() -> None:
    page = (ROOT / "docs" / "spotify-api.md").read_text(encoding="utf-8")
    sections = set(re.findall(r"^#{2,3} (\d+(?:\.\d+)?)\.? ", page, flags=re.M))
    assert {"1", "2.1", "3.2", "4", "5", "6.3", "7"} <= sections
    missing, seen = [], 0
    for path in _tracked_text_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        for cited in re.findall(r"spotify-api\.md((?:,? (?:and )?§\d+(?:\.\d+)?)+)", text):
            for number in re.findall(r"§(\d+(?:\.\d+)?)", cited):
                seen += 1
                if number not in sections:
                    missing.append(f"{path.relative_to(ROOT)}: §{number}")
    assert seen >= 10, f"only {seen} citations of docs/spotify-api.md found: is the pattern still right?"
    assert not missing, f"sections of docs/spotify-api.md cited but absent: {missing}"


def test_relative_links_in_the_docs_resolve() -> None:
    broken = []
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text(encoding="utf-8")):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue  # a URL or an anchor on the same page
            if not (page.parent / target.split("#", 1)[0]).exists():
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
    assert not broken, f"links to files that do not exist: {broken}"


def test_the_product_names_no_tracker_issue() -> None:
    # Tables, docstrings and docs say what a thing is ("the simulator"), not which ticket asked for it.
    pattern = re.compile(r"\b[Ii]ssue" + r" \d+\b")
    offenders = [
        f"{path.relative_to(ROOT)}: {match.group(0)}"
        for path in _tracked_text_files()
        if path.parts[len(ROOT.parts)] in {"src", "bench", "docs", "tests", "dags", "README.md"}
        for match in pattern.finditer(path.read_text(encoding="utf-8", errors="replace"))
    ]
    assert not offenders, offenders


# --- the README's command sections follow `--help` -------------------------------------------------

SECTION = re.compile(r"^### `(spotify-pipeline[^`]*?)(?: [A-Z]+)?`\n(.*?)(?=^##)", re.M | re.S)
# `spotify-pipeline <words> ...` up to the end of a code span, a shell comment or the line.
EXAMPLE = re.compile(r"spotify-pipeline((?: [^`#\n]*)?)")
OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")


def _leaf_commands() -> dict[str, typer.main.click.Command]:
    out: dict[str, typer.main.click.Command] = {}

    def walk(cmd, path: str) -> None:  # noqa: ANN001
        subs = getattr(cmd, "commands", None)
        if subs:
            for name, sub in subs.items():
                walk(sub, f"{path} {name}")
        else:
            out[path] = cmd

    walk(typer.main.get_command(app), "spotify-pipeline")
    return out


def _long_options(cmd) -> set[str]:  # noqa: ANN001
    return {
        o
        for p in cmd.params
        if p.param_type_name == "option"
        for o in [*p.opts, *p.secondary_opts]
        if o.startswith("--") and o != "--help"
    }


GLOBAL_OPTIONS = _long_options(typer.main.get_command(app)) | {"--help"}


def test_every_option_of_a_command_is_named_in_its_readme_section() -> None:
    sections = {m.group(1): m.group(2) for m in SECTION.finditer(README)}
    commands = _leaf_commands()
    assert set(sections) == set(commands), "the section headings are checked above"
    missing = {
        path: sorted(_long_options(cmd) - set(OPTION.findall(sections[path])))
        for path, cmd in commands.items()
    }
    missing = {path: opts for path, opts in missing.items() if opts}
    assert not missing, f"options `--help` lists that the README section does not name: {missing}"


def test_command_examples_in_the_docs_use_options_the_command_has() -> None:
    commands = _leaf_commands()
    wrong, seen = [], 0
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), start=1):
            for match in EXAMPLE.finditer(line):
                words = match.group(1).split()
                path = "spotify-pipeline"
                for word in words:
                    if any(c.startswith(f"{path} {word}") for c in commands):
                        path = f"{path} {word}"
                    else:
                        break
                if path not in commands:
                    continue  # a group, or prose such as "spotify-pipeline's"
                seen += 1
                allowed = _long_options(commands[path]) | GLOBAL_OPTIONS
                for option in OPTION.findall(match.group(1)):
                    if option not in allowed:
                        wrong.append(f"{page.relative_to(ROOT)}:{number}: `{path}` has no {option}")
    assert seen >= 40, f"only {seen} command examples found: is the pattern still right?"
    assert not wrong, "\n".join(wrong)
