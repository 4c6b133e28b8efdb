"""`spotify-pipeline config show|import-legacy`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ..clock import SystemClock
from ..config_sources import source_of
from ..legacy import env_file_text, legacy_to_env, read_legacy
from ..spotify.auth import token_from_grant
from ..spotify.tokens import FileTokenStore
from .common import call, console, err_console, fail, print_json, settings, warn

app = typer.Typer(
    help="Show the settings (secrets masked) or import the original system's files.", no_args_is_help=True
)


@app.command()
def show(
    ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False
) -> None:
    """Every setting, its value (secrets masked) and where the value came from."""
    data = settings(ctx, warehouse_must_exist=False, raw_zone_must_exist=False).masked()
    if as_json:
        print_json(data)
        return
    table = Table(title="settings (env SPOTIFY_PIPELINE_<NAME>)")
    table.add_column("name", no_wrap=True)
    table.add_column("value", overflow="fold")  # folded, never cut with an ellipsis
    table.add_column("source", overflow="fold")
    for name, value in data.items():
        table.add_row(name, "" if value is None else str(value), source_of(name).where)
    console.print(table)


@app.command("import-legacy")
def import_legacy(
    directory: Annotated[
        Path,
        typer.Argument(
            help="Folder with the original system's credential files",
            metavar="DIR",
            exists=True,
            file_okay=False,
            dir_okay=True,
        ),
    ],
    env_file: Annotated[Path, typer.Option("--env-file", help="Where to write the settings (0600)")] = Path(
        ".env"
    ),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing env file")] = False,
) -> None:
    """Read spotify_client_info.txt, aws_access_key.txt, db_access_key.txt and tokens.json."""
    cfg = call(read_legacy, directory)
    if env_file.exists() and not force:
        fail(f"{env_file} exists: pass --force to overwrite it, or --env-file to choose another file")
    lines = call(legacy_to_env, cfg)
    fd = os.open(env_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(env_file_text(lines))
    os.chmod(env_file, 0o600)
    console.print(f"wrote {len(lines)} settings to {env_file} (mode 0600)")
    tokens = cfg.tokens or {}
    if tokens.get("refresh_token") is not None and tokens.get("access_token") is not None and cfg.client_id:
        token_file = Path(lines.get("SPOTIFY_PIPELINE_TOKEN_FILE", "data/tokens.json"))
        body = {k: v.get_secret_value() for k, v in tokens.items()}
        state = call(token_from_grant, body, cfg.client_id, SystemClock().now())
        call(FileTokenStore(token_file).save, state)
        console.print(
            f"stored the legacy refresh token in {token_file}; its consent time is unknown, so it is "
            "counted from today: run `spotify-pipeline auth status`"
        )
    if cfg.aws_access_key_id:
        err_console.print(
            "AWS keys found: they are not copied into our settings. Put them in ~/.aws/credentials or the "
            "environment (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY), where boto3's standard chain finds them."
        )
    for warning in cfg.warnings:
        warn(warning)
