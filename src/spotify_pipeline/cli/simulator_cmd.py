"""`spotify-pipeline simulator serve`: the bundled Spotify Web API simulator on 127.0.0.1."""

from __future__ import annotations

from typing import Annotated

import typer

app = typer.Typer(help="The bundled Spotify Web API simulator.", no_args_is_help=True)


@app.command()
def serve(
    port: Annotated[int, typer.Option("--port", help="Port on 127.0.0.1 (0 picks a free one)")] = 0,
    seed: Annotated[int, typer.Option("--seed")] = 7,
    mode: Annotated[str, typer.Option("--mode", help="development or extended")] = "development",
    user: Annotated[list[str] | None, typer.Option("--user", help="Simulated listener (repeatable)")] = None,
    profile: Annotated[str, typer.Option("--profile", help="light, typical, heavy or binge")] = "typical",
) -> None:
    """Serve the simulator until interrupted. The first line printed is one JSON object with
    accounts_url, api_url, client_id, client_secret and redirect_uri."""
    from ..simulator import serve_forever_cli

    if mode not in ("development", "extended"):
        raise typer.BadParameter("use development or extended", param_hint="--mode")
    serve_forever_cli(port=port, seed=seed, mode=mode, users=user or ["me"], profile=profile)
