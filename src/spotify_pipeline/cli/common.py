"""Shared plumbing of the CLI: settings from the global options, error handling, output."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from ..errors import PipelineError
from ..settings import ENV_PREFIX, Settings, load_settings

console = Console()
err_console = Console(stderr=True)
T = TypeVar("T")


class State:
    config_file: Path | None = None
    settings: Settings | None = None


STATE = State()


def settings() -> Settings:
    if STATE.settings is None:
        if STATE.config_file is not None:
            if not STATE.config_file.is_file():
                fail(f"config file {STATE.config_file} does not exist (--config)")
            os.environ[ENV_PREFIX + "CONFIG_FILE"] = str(STATE.config_file)
        with errors_to_exit():
            STATE.settings = load_settings()
        setup_logging(STATE.settings)
    return STATE.settings


def setup_logging(s: Settings) -> None:
    from ..redact import install, register_secrets

    logging.basicConfig(
        level=s.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    register_secrets(s.secret_values())
    install()


def fail(message: str, code: int = 1) -> None:
    # Escaped: a message quoting a name, a path or `pip install 'pkg[extra]'` is text, not markup.
    err_console.print(f"[bold red]error:[/] {escape(message)}", markup=True, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


@contextmanager
def errors_to_exit() -> Iterator[None]:
    """Turn the project's errors into one line on stderr and a non-zero exit."""
    try:
        yield
    except PipelineError as exc:
        fail(str(exc))


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")


def call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    with errors_to_exit():
        return fn(*args, **kwargs)
