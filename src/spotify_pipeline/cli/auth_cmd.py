"""`spotify-pipeline auth login|status|logout`."""

from __future__ import annotations

from typing import Annotated

import typer

from .common import call, console, err_console, fail, print_json, settings, warn

NO_FILES = {"warehouse_must_exist": False, "raw_zone_must_exist": False}  # logging in needs neither

app = typer.Typer(help="Log in to Spotify, see how long the login lasts, log out.", no_args_is_help=True)


@app.command()
def login(
    no_browser: Annotated[
        bool, typer.Option("--no-browser", help="Print the URL and paste the redirect URL back (over SSH)")
    ] = False,
    scope: Annotated[
        list[str] | None,
        typer.Option(
            "--scope", help="Also ask for: playlists (write private playlists, for recommend --to-playlist)"
        ),
    ] = None,
) -> None:
    """Authorize this app (PKCE, or a confidential client when a secret is set) and store the tokens."""
    import webbrowser

    from ..clock import SystemClock
    from ..settings import PLAYLIST_SCOPES, SCOPES
    from ..spotify.auth import login as do_login
    from ..spotify.tokens import FileTokenStore

    extra = {"playlists": PLAYLIST_SCOPES}
    unknown = [name for name in scope or [] if name not in extra]
    if unknown:
        fail(f"--scope {unknown[0]!r}: the only extra scope is 'playlists' (private playlists for recommend)")
    scopes = SCOPES + tuple(s for name in dict.fromkeys(scope or []) for s in extra[name])
    s = settings(**NO_FILES)
    if not s.client_id:
        fail("no client id: set SPOTIFY_PIPELINE_CLIENT_ID (or client_id in spotify-pipeline.toml)")
    store = FileTokenStore(s.token_file)
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
    console.print(f"logged in; tokens stored in {s.token_file} (mode 0600); scopes: {state.scope}")


@app.command()
def status(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Days left of the 6-month refresh-token life, with warnings at 30 and 7 days."""
    from ..jobs.runtime import Runtime
    from ..jobs.status import token_status

    data = token_status(Runtime(settings(**NO_FILES)))
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
def logout() -> None:
    """Delete the stored tokens."""
    from ..spotify.tokens import FileTokenStore

    s = settings(**NO_FILES)
    if not s.token_file.exists():
        console.print(f"nothing to remove: no tokens at {s.token_file} (setting token_file)")
        return
    call(FileTokenStore(s.token_file).delete)
    console.print(f"removed {s.token_file}")
