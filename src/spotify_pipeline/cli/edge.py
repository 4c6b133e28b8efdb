"""The outermost layer of every command: one line on stderr for any failure, never a traceback.

The specific causes (bad settings, an unreachable warehouse, a missing driver, a bad path) are
turned into messages where they happen; this edge is the last resort for the unforeseen, so a
cron log still gets one line that says where to look, and ``--config`` works wherever it is typed.
"""

from __future__ import annotations

import logging
from typing import Any

import typer
from typer._click import exceptions as click_exceptions  # typer vendors click as typer._click
from typer._click.core import Context
from typer.core import TyperGroup

from ..errors import PipelineError
from ..settings import use_config_file
from ..warehouse.engine import (
    DbTimeouts,
    allow_creating_sqlite,
    describe_db_error,
    is_database_error,
    use_default_timeouts,
)
from .common import DEBUG_HINT, CliState, err_console, fail, setup_output

log = logging.getLogger("spotify_pipeline.cli")


def hoist_global_options(args: list[str]) -> list[str]:
    """Move ``--config FILE`` / ``--config=FILE`` typed after a subcommand to the front, where
    click expects the group's own options (``spotify-pipeline status --config x.toml``)."""
    hoisted: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest.extend(args[i:])
            break
        if arg == "--config" and i + 1 < len(args):
            hoisted.extend(args[i : i + 2])
            i += 2
            continue
        if arg.startswith("--config="):
            hoisted.append(arg)
        else:
            rest.append(arg)
        i += 1
    return hoisted + rest


def _database_message(exc: BaseException, state: CliState) -> str:
    s = state.settings
    if s is None:
        return f"warehouse: {type(exc).__name__}: {exc}"
    return describe_db_error(exc, s.warehouse_url.get_secret_value(), DbTimeouts.from_settings(s))


class PipelineGroup(TyperGroup):
    """The root command group: global options anywhere, and no exception escapes as a traceback."""

    def parse_args(self, ctx: Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, hoist_global_options(list(args)))

    def invoke(self, ctx: Context) -> Any:
        setup_output()
        # This invocation's state (``--config``, the settings once read): every subcommand inherits it.
        ctx.obj = state = CliState()
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException, click_exceptions.ClickException):
            raise  # exits, aborts and usage errors that typer already words
        except KeyboardInterrupt:
            err_console.print("interrupted", highlight=False)
            raise typer.Exit(130) from None
        except PipelineError as exc:
            fail(str(exc))
        except OSError as exc:
            log.debug("file error", exc_info=True)
            where = f"{exc.filename}: " if exc.filename else ""
            fail(f"{where}{exc.strerror or exc} ({DEBUG_HINT})")
        except Exception as exc:
            if is_database_error(exc):
                log.debug("database error", exc_info=True)
                fail(_database_message(exc, state))
            log.debug("unexpected error", exc_info=True)
            fail(f"unexpected error: {type(exc).__name__}: {exc} ({DEBUG_HINT})")
        finally:
            # The next call in this process (a test, a DAG) starts from the defaults again.
            use_config_file(None)
            use_default_timeouts(None)
            allow_creating_sqlite(True)
