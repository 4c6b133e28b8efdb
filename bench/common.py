"""What the benchmarks share: measured subprocesses, scratch folders, a simulated listener's runtime."""

from __future__ import annotations

import logging
import multiprocessing
import os
import resource
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

START = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Measured:
    """What a function returned in a child process, its wall time and the child's peak RSS."""

    value: Any
    seconds: float
    peak_rss_mb: float


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


#: Where the pipeline's own log lines go during a run (gap warnings come by the hundred): never the
#: terminal, which shows the tables. ``python -m bench`` names the file beside its results (the
#: environment carries it to every spawned process) and empties it at the start.
LOG_FILE = Path(__file__).parent / "results" / "latest.log"
LOG_ENV = "SP_BENCH_LOG"


def log_file() -> Path:
    return Path(os.environ.get(LOG_ENV) or LOG_FILE)


def log_to_file() -> logging.Handler:
    """Send this process's log records (WARNING and up, from every logger) to ``log_file()``; the
    root logger's handlers are replaced (the caller may put them back: ``restore_logging``)."""
    path = log_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(
        logging.Formatter(f"%(asctime)s pid {os.getpid()} %(name)s %(levelname)s %(message)s")
    )
    logging.basicConfig(level=logging.WARNING, handlers=[handler], force=True)
    return handler


def restore_logging(handlers: list[logging.Handler], level: int, ours: logging.Handler) -> None:
    root = logging.getLogger()
    root.removeHandler(ours)
    ours.close()
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def _child(conn: Any, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
    log_to_file()
    try:
        t0 = time.perf_counter()
        value = fn(*args)
        conn.send(("ok", Measured(value, time.perf_counter() - t0, peak_rss_mb())))
    except BaseException as exc:  # the parent re-raises it with the child's message
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        raise
    finally:
        conn.close()


def run_measured(fn: Callable[..., Any], *args: Any) -> Measured:
    """Run ``fn(*args)`` in a fresh (spawned) interpreter, so one measurement's imports, caches and
    memory high-water mark never pollute the next; ``fn`` must be a module-level function."""
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(child, fn, args))
    proc.start()
    child.close()
    try:
        status, payload = parent.recv()
    except EOFError:
        status, payload = "error", "the child process died without an answer"
    proc.join()
    if status != "ok":
        raise RuntimeError(f"{fn.__module__}.{fn.__name__} failed in its subprocess: {payload}")
    return payload


def scratch(prefix: str, *, memory: bool = False) -> Path:
    """A fresh folder. ``memory=True`` puts it on /dev/shm when there is one: the simulations measure
    calls and completeness, not the disk's fsync latency, which would otherwise dominate their time."""
    base = "/dev/shm" if memory and os.access("/dev/shm", os.W_OK) else None
    return Path(tempfile.mkdtemp(prefix=f"sp-bench-{prefix}-", dir=base))


def remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def simulated_runtime(
    sim: Any,
    user: str,
    base: Path,
    *,
    warehouse_url: str | None = None,
    partition: bool = False,
    raw_zone: Path | None = None,
) -> Any:
    """A Runtime for ``user`` against the in-process simulator, on the simulator's ManualClock,
    with a fresh consent (PKCE) in a memory token store. Retries wait on simulated time."""
    from spotify_pipeline.jobs.runtime import Runtime
    from spotify_pipeline.settings import load_settings
    from spotify_pipeline.spotify.auth import token_from_grant
    from spotify_pipeline.spotify.tokens import MemoryTokenStore

    app = sim.default_app
    settings = load_settings(
        raw_zone=str(raw_zone or base / "raw"),
        warehouse_url=warehouse_url or f"sqlite:///{base / 'warehouse.db'}",
        user=user,
        user_partition=partition,
        client_id=app.client_id,
        token_file=base / f"tokens-{user}.json",
    )
    tokens = MemoryTokenStore()
    tokens.save(token_from_grant(sim.grant(user, pkce=True), client_id=app.client_id, now=sim.clock.now()))
    rt = Runtime(settings, clock=sim.clock, transport=sim.transport(), token_store_override=tokens)
    rt.sleep = sim.clock.advance
    return rt


def mariadb_available(host: str = "127.0.0.1", port: int = 3306) -> str | None:
    """The server version, or None when no MariaDB/MySQL answers on host:port as root."""
    try:
        import pymysql
    except ImportError:
        return None
    try:
        conn = pymysql.connect(host=host, port=port, user="root", password="", connect_timeout=3)
    except pymysql.MySQLError:
        return None
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT VERSION()")
            row = cur.fetchone()
            return str(row[0]) if row else None
    finally:
        conn.close()


class MariaDbDatabase:
    """A throwaway database ``sp_bench_<random>`` on the local server, dropped on exit."""

    def __init__(self, host: str = "127.0.0.1", port: int = 3306) -> None:
        self.host, self.port = host, port
        self.name = f"sp_bench_{os.urandom(4).hex()}"

    @property
    def url(self) -> str:
        return f"mysql+pymysql://root@{self.host}:{self.port}/{self.name}"

    def _admin(self, sql: str) -> None:
        import pymysql

        conn = pymysql.connect(host=self.host, port=self.port, user="root", password="")
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
        finally:
            conn.close()

    def __enter__(self) -> MariaDbDatabase:
        self._admin(f"CREATE DATABASE {self.name} CHARACTER SET utf8mb4")
        return self

    def __exit__(self, *exc: object) -> None:
        self._admin(f"DROP DATABASE IF EXISTS {self.name}")
