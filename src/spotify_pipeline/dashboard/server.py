"""Bind, say where, serve: the socket is bound before the URL is printed, so the printed URL is
one that answers (and ``--port 0`` prints the port the system chose)."""

from __future__ import annotations

import socket
from collections.abc import Callable

import uvicorn

from .app import create_app
from .views import Source

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``; OSError (e.g. the port is taken) to the caller."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def make_server(src: Source, sock: socket.socket) -> uvicorn.Server:
    config = uvicorn.Config(create_app(src), log_level="warning", access_log=False, server_header=False,
                            lifespan="off")  # fmt: skip
    return uvicorn.Server(config)


def serve(src: Source, sock: socket.socket, say: Callable[[str], None]) -> None:
    """Serve on ``sock`` until interrupted; ``say`` prints the URL first."""
    say(url_of(sock))
    server = make_server(src, sock)
    server.run(sockets=[sock])
