"""`spotify-pipeline users add|list|remove`: the listeners one Spotify app serves."""

from __future__ import annotations

from typing import Annotated

import typer

from ..jobs.users import add_user, describe_users, remove_user
from .common import call, console, print_json, settings, warn

app = typer.Typer(
    help="The listeners this pipeline serves (one Spotify app, several users).", no_args_is_help=True
)


@app.command("add")
def add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The listener's name (a raw-zone partition users/NAME/)")],
) -> None:
    """Register a listener; then log them in with `auth login --user NAME`."""
    added = call(add_user, settings(ctx), name)
    if added:
        console.print(f"added {name}; next: `spotify-pipeline auth login --user {name}`", highlight=False)
    else:
        console.print(f"{name} was already registered; nothing changed", highlight=False)


@app.command("list")
def list_(
    ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json", help="Print one JSON array")] = False
) -> None:
    """Every listener, where their raw objects go and whether their login works."""
    users = call(describe_users, settings(ctx))
    if as_json:
        print_json(users)
        return
    if not users:
        console.print(f"no listeners registered: runs serve the configured user {settings(ctx).user!r}")
        return
    for u in users:
        login = (
            f"logged in, {u['refresh_token_days_left']} days left"
            if u.get("logged_in")
            else u.get("problem", "not logged in")
        )
        console.print(f"{u['user']}\t{u['partition'] or '(raw zone root)'}\t{login}", highlight=False)


@app.command("remove")
def remove(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The listener to stop serving")],
    keep_tokens: Annotated[bool, typer.Option("--keep-tokens", help="Keep their login (tokens)")] = False,
) -> None:
    """Stop serving a listener and delete their login; their plays and raw objects stay."""
    done = call(remove_user, settings(ctx), name, keep_tokens=keep_tokens)
    if not done["registered"]:
        warn(f"{name} was not registered")
    console.print(
        f"removed {name}" + ("; their tokens were deleted" if done["tokens_deleted"] else ""), highlight=False
    )
