"""A clean, hermetic environment for CLI tests: a temporary working folder and no
SPOTIFY_PIPELINE_* variable of the machine running the tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from spotify_pipeline.cli.main import app


@dataclass
class Cli:
    root: Path
    monkeypatch: pytest.MonkeyPatch

    def __call__(self, *args: str, input: str | None = None) -> Result:  # noqa: A002 - CliRunner's name
        return CliRunner().invoke(app, list(args), input=input)

    def env(self, **values: str) -> None:
        for key, value in values.items():
            self.monkeypatch.setenv("SPOTIFY_PIPELINE_" + key.upper(), value)

    def init(self) -> None:
        result = self("init")
        assert result.exit_code == 0, result.output


@pytest.fixture()
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    """A CLI whose raw zone, warehouse and token file are in tmp_path (not created: run ``init``)."""
    monkeypatch.chdir(tmp_path)
    for key in [k for k in os.environ if k.upper().startswith("SPOTIFY_PIPELINE_")]:
        monkeypatch.delenv(key)
    c = Cli(tmp_path, monkeypatch)
    c.env(
        raw_zone=str(tmp_path / "raw"),
        warehouse_url=f"sqlite:///{tmp_path / 'w.db'}",
        token_file=str(tmp_path / "tokens.json"),
    )
    yield c


def error_lines(result: Result) -> list[str]:
    """The non-empty lines of stderr."""
    return [line for line in result.stderr.splitlines() if line.strip()]


def assert_one_line_failure(result: Result, *expected: str) -> str:
    """Non-zero exit, exactly one `error:` line on stderr (containing each of ``expected``), no
    traceback anywhere, and no exception other than the exit itself."""
    assert result.exit_code not in (0, None), result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output and "Traceback" not in result.stderr
    lines = error_lines(result)
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for text in expected:
        assert text in lines[0], (text, lines[0])
    return lines[0]
