"""Shared plumbing of the CLI: settings from the global options (``ctx.obj``), error handling, output.

Output rules, so that a cron log stays one event a line and nothing a user typed is mangled:

* both consoles print with rich markup *off*: file names, track names and error text such as
  ``pip install 'spotify-pipeline[s3]'`` or ``exp[old]`` are printed as they are. Styled words go
  through ``warn``/``fail``, which build ``rich.text.Text`` objects (never parsed as markup);
* when stdout/stderr is not a terminal, lines are not wrapped at 80 columns (``setup_output``).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.text import Text

from ..errors import PipelineError
from ..jobs.report import JobReport
from ..redact import install, redact, register_secrets
from ..settings import Settings, load_settings, use_config_file
from ..warehouse.engine import DbTimeouts, sqlite_path, use_default_timeouts

console = Console(markup=False)
err_console = Console(stderr=True, markup=False)
T = TypeVar("T")
DEBUG_HINT = "run with SPOTIFY_PIPELINE_LOG_LEVEL=DEBUG for details"
# Loggers that narrate every step at INFO (alembic's plugin and migration lines, one line per HTTP
# request): at INFO a cron log should hold our events only.
CHATTY_LOGGERS = ("alembic", "httpx", "httpcore", "botocore", "boto3", "urllib3", "s3transfer")


# How a job's status is coloured wherever a report is printed.
STATUS_STYLE = {"ok": "green", "paused": "yellow", "skipped": "yellow", "partial": "yellow"}


@dataclass
class CliState:
    """What one invocation knows besides its own options, kept in typer's ``ctx.obj``: the
    ``--config`` file given and the settings read from it (once, on first use)."""

    config_file: Path | None = None
    settings: Settings | None = None


def cli_state(ctx: typer.Context) -> CliState:
    """This invocation's state (the root command's ``ctx.obj``, which every subcommand inherits)."""
    return ctx.ensure_object(CliState)


def setup_output() -> None:
    """No wrapping at 80 columns when the output is a file or a pipe (cron, `| grep`)."""
    for c in (console, err_console):
        terminal = c.is_terminal
        c.soft_wrap = not terminal
        if not terminal:
            c.width = max(c.width, 400)


def settings(
    ctx: typer.Context, *, warehouse_must_exist: bool = True, raw_zone_must_exist: bool = True
) -> Settings:
    """The settings of this invocation. Unless told otherwise, a local warehouse file and a local raw
    zone must already exist: only `init` creates them, so that a typo in a path fails instead of
    quietly starting an empty warehouse somewhere else."""
    state = cli_state(ctx)
    if state.settings is None:
        use_config_file(state.config_file)
        # Checked here, not with typer's exists=True: a cron log gets one line and exit 1.
        if state.config_file is not None and not state.config_file.is_file():
            fail(f"config file {state.config_file} does not exist (--config)")
        with errors_to_exit():
            state.settings = load_settings()
        setup_logging(state.settings)
        use_default_timeouts(DbTimeouts.from_settings(state.settings))
    s = state.settings
    if warehouse_must_exist:
        _require_warehouse(s)
    if raw_zone_must_exist:
        _require_raw_zone(s)
    return s


def _require_warehouse(s: Settings) -> None:
    path = sqlite_path(s.warehouse_url.get_secret_value())
    if path is not None and not path.is_file():
        fail(f"no warehouse at {path} (setting warehouse_url): run `spotify-pipeline init` to create it")


def _require_raw_zone(s: Settings) -> None:
    if s.is_s3:
        return
    path = Path(s.raw_zone).expanduser()
    if not path.is_dir():
        fail(f"no raw zone at {path} (setting raw_zone): run `spotify-pipeline init` to create it")


def setup_logging(s: Settings) -> None:
    logging.basicConfig(
        level=s.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    logging.getLogger().setLevel(s.log_level)
    quiet = logging.DEBUG if s.log_level == "DEBUG" else logging.WARNING
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(quiet)
    # A library may have set a level on one of its own child loggers (alembic's plugin logger does):
    # the parent's level must decide, or DEBUG would not reach it.
    for name, child in logging.root.manager.loggerDict.items():
        if isinstance(child, logging.Logger) and name.startswith(tuple(f"{c}." for c in CHATTY_LOGGERS)):
            child.setLevel(logging.NOTSET)
    register_secrets(s.secret_values())
    install()


def warn(message: str, label: str = "warning") -> None:
    """``label: message`` on stderr, the label in yellow; the message printed exactly as given."""
    err_console.print(Text.assemble((f"{label}:", "yellow"), " ", message), highlight=False)


def fail(message: str, code: int = 1) -> NoReturn:
    text = redact(one_line(message))
    err_console.print(Text.assemble(("error:", "bold red"), " ", text), highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def one_line(text: str) -> str:
    """A message as one line: a cron log greps one event per line."""
    return " ".join(text.split())


@contextmanager
def errors_to_exit() -> Iterator[None]:
    """Turn the project's errors into one line on stderr and a non-zero exit."""
    try:
        yield
    except PipelineError as exc:
        fail(str(exc))


def print_json(data: Any) -> None:
    text = json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n"
    # A lone surrogate (a broken track name) must not make the whole answer unprintable.
    sys.stdout.write(text.encode("utf-8", "backslashreplace").decode("utf-8"))


def call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    with errors_to_exit():
        return fn(*args, **kwargs)


def report_text(report: JobReport) -> Text:
    """A job's one-line summary, coloured by its status."""
    return Text(report.summary(), style=STATUS_STYLE.get(report.status, "red"))
