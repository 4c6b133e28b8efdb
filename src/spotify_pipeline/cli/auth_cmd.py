"""`spotify-pipeline auth login|status|logout`."""

from __future__ import annotations

import webbrowser
from typing import Annotated

import typer

from ..clock import SystemClock
from ..jobs.runtime import Runtime
from ..jobs.status import token_status
from ..jobs.token_stores import open_token_store
from ..jobs.users import for_user
from ..settings import PLAYLIST_SCOPES, SCOPES, Settings
from ..spotify.auth import login as do_login
from .common import call, console, err_console, fail, print_json, settings, warn

NO_FILES = {"warehouse_must_exist": False, "raw_zone_must_exist": False}  # logging in needs neither

app = typer.Typer(help="Log in to Spotify, see how long the login lasts, log out.", no_args_is_help=True)

UserOpt = Annotated[
    str | None,
    typer.Option("--user", help="A listener of `users list` (default: the configured user)"),
]


def user_settings(ctx: typer.Context, user: str | None) -> Settings:
    """The settings of ``user`` (their token state), the configured user's when None."""
    s = settings(ctx, **NO_FILES)
    if user is None or user == s.user:
        return s
    return call(for_user, s, user, partition=False)


def _where(s: Settings) -> str:
    if s.token_store_url is not None:
        return f"the shared token store (user {s.user}, encrypted)"
    return f"{s.token_file} (mode 0600)"


@app.command()
def login(
    ctx: typer.Context,
    no_browser: Annotated[
        bool, typer.Option("--no-browser", help="Print the URL and paste the redirect URL back (over SSH)")
    ] = False,
    scope: Annotated[
        list[str] | None,
        typer.Option(
            "--scope", help="Also ask for: playlists (write private playlists, for recommend --to-playlist)"
        ),
    ] = None,
    user: UserOpt = None,
) -> None:
    """Authorize this app (PKCE, or a confidential client when a secret is set) and store the tokens."""
    extra = {"playlists": PLAYLIST_SCOPES}
    unknown = [name for name in scope or [] if name not in extra]
    if unknown:
        fail(f"--scope {unknown[0]!r}: the only extra scope is 'playlists' (private playlists for recommend)")
    scopes = SCOPES + tuple(s for name in dict.fromkeys(scope or []) for s in extra[name])
    s = user_settings(ctx, user)
    if not s.client_id:
        fail("no client id: set SPOTIFY_PIPELINE_CLIENT_ID (or client_id in spotify-pipeline.toml)")
    store = call(open_token_store, s)
    state = call(
        do_login,
        s,
        store,
        open_browser=not no_browser,
        prompt=lambda text: typer.prompt(text),
        echo=lambda text: console.print(text, highlight=False, soft_wrap=True),
        clock=SystemClock(),
        browser=lambda url: webbrowser.open(url),
        scopes=scopes,
    )
    console.print(
        f"logged in as {s.user}; tokens stored in {_where(s)}; scopes: {state.scope}", highlight=False
    )


@app.command()
def status(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
    user: UserOpt = None,
) -> None:
    """Days left of the 6-month refresh-token life, with warnings at 30 and 7 days."""
    data = call(token_status, Runtime(user_settings(ctx, user)))
    if as_json:
        print_json(data)
    elif not data["logged_in"]:
        err_console.print(data["problem"])
    else:
        console.print(
            f"logged in as app {data['client_id']}; consent {data['consented_at']}; "
            f"refresh token: {data['refresh_token_days_left']} days left"
        )
    if data.get("warning"):
        warn(data["warning"])
    if not data["logged_in"]:
        raise typer.Exit(1)


@app.command()
def logout(ctx: typer.Context, user: UserOpt = None) -> None:
    """Delete the stored tokens."""
    s = user_settings(ctx, user)
    if s.token_store_url is None and not s.token_file.exists():
        console.print(f"nothing to remove: no tokens at {s.token_file} (setting token_file)")
        return
    if not call(call(open_token_store, s).delete):
        console.print(f"nothing to remove: no tokens for {s.user} in {_where(s)}", highlight=False)
        return
    console.print(f"removed the tokens of {s.user} from {_where(s)}", highlight=False)
