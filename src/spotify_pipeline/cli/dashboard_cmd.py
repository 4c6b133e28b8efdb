"""`spotify-pipeline dashboard`: the read-only web face, served on 127.0.0.1 unless told otherwise."""

from __future__ import annotations

from typing import Annotated

import typer

from ..insights.period import PERIODS
from ..insights.source import open_warehouse
from ..jobs.runtime import Runtime
from ..warehouse.engine import sqlite_path
from .common import call, console, fail, settings, warn


def dashboard(
    ctx: typer.Context,
    host: Annotated[
        str,
        typer.Option("--host", help="Address to bind; anything but loopback is open to others (no login)"),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port (0: any free port)")] = 8050,
    period: Annotated[
        str, typer.Option("--period", help="Period a page shows first: day, week, month, year or all")
    ] = "month",
    warehouse_url: Annotated[
        str | None,
        typer.Option("--warehouse-url", help="Warehouse to show (default: the warehouse_url setting)"),
    ] = None,
) -> None:
    """Serve the dashboard (overview, top, clock, timeline, discoveries, following, health); prints its URL first."""
    # deferred: optional extra (`dashboard`: starlette, jinja2, uvicorn) and CLI start-up time
    from ..dashboard.server import LOOPBACK, bind, serve
    from ..dashboard.views import Source

    if period not in PERIODS:
        fail(f"unknown period {period!r}: use one of {', '.join(PERIODS)}")
    s = settings(ctx, warehouse_must_exist=warehouse_url is None, raw_zone_must_exist=False)
    url = warehouse_url or s.warehouse_url.get_secret_value()
    path = sqlite_path(url)
    if path is not None and not path.is_file():  # opening would create an empty file
        fail(f"no warehouse at {path} (--warehouse-url): run `spotify-pipeline init` or give the demo's URL")
    engine = call(open_warehouse, url)
    try:
        sock = bind(host, port)
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}; check --host, or choose another --port")
    src = Source(engine, s.timezone, s.user, Runtime(s).token_store, default_period=period)

    def say(line: str) -> None:
        console.print(line, highlight=False, soft_wrap=True)
        if host not in LOOPBACK:  # after the URL, so that the URL stays the first line
            warn(f"listening on {host}: anyone who can reach it sees your listening history (no login)")

    serve(src, sock, say)
