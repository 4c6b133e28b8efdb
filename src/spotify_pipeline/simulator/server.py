"""The simulator on a real socket: a threaded werkzeug server bound to 127.0.0.1 only.

``serve()`` is for tests and the demo (a context manager, ready when it yields); ``serve_forever_cli``
backs ``spotify-pipeline simulator serve --port N``: its first line of output is one JSON object
with the base URLs and the registered app's credentials, then it serves until interrupted.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TextIO

from werkzeug.serving import BaseWSGIServer, make_server

from .app import DEFAULT_REDIRECT_URI, Simulator
from .state import SimulatorConfig

HOST = "127.0.0.1"  # never anything else: the simulator hands out working tokens to anyone who asks


@dataclass(frozen=True)
class ServerInfo:
    accounts_url: str
    api_url: str
    client_id: str
    client_secret: str = field(repr=False)
    redirect_uri: str
    port: int

    def as_json(self) -> str:
        return json.dumps(
            {
                "accounts_url": self.accounts_url,
                "api_url": self.api_url,
                "client_id": self.client_id,
                "client_secret": self.client_secret,
                "redirect_uri": self.redirect_uri,
            }
        )


def _start(sim: Simulator, host: str, port: int) -> tuple[BaseWSGIServer, threading.Thread, ServerInfo]:
    if host != HOST:
        raise ValueError(f"the simulator binds {HOST} only, not {host!r}")
    server = make_server(host, port, sim.wsgi_app, threaded=True)
    bound = int(server.socket.getsockname()[1])
    # A short poll interval makes shutdown (which waits for the next poll) take milliseconds.
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.05},
        name=f"spotify-simulator:{bound}",
        daemon=True,
    )
    thread.start()
    base = f"http://{host}:{bound}"
    info = ServerInfo(
        accounts_url=base,
        api_url=f"{base}/v1",
        client_id=sim.default_app.client_id,
        client_secret=sim.default_app.client_secret,
        redirect_uri=DEFAULT_REDIRECT_URI,
        port=bound,
    )
    return server, thread, info


@contextmanager
def serve(sim: Simulator, host: str = HOST, port: int = 0) -> Iterator[ServerInfo]:
    """Serve ``sim`` on ``host:port`` (0 = a free port) until the block ends.

    The socket is bound and listening before this yields, so the first request is answered.
    """
    server, thread, info = _start(sim, host, port)
    try:
        yield info
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def serve_forever_cli(
    port: int,
    seed: int,
    mode: str,
    users: list[str],
    profile: str,
    *,
    out: TextIO | None = None,
    stop: threading.Event | None = None,
    client_id: str | None = None,
) -> None:
    """Run a simulator for a person (real time). Prints one JSON line first, then serves until
    interrupted (Ctrl-C) or until ``stop`` is set (tests)."""
    out = out or sys.stdout
    sim = Simulator(SimulatorConfig(seed=seed, mode=mode))
    if client_id is not None:
        # A fixed id survives restarts, so SPOTIFY_PIPELINE_CLIENT_ID need not change each time.
        sim.default_app = sim.register_app([DEFAULT_REDIRECT_URI], client_id=client_id)
    for user in users:
        sim.add_user(user, profile=profile)
    stop = stop or threading.Event()
    with serve(sim, port=port) as info:
        out.write(info.as_json() + "\n")
        out.flush()
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
