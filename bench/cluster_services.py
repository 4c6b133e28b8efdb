"""What the Airflow cluster of bench/airflow_cluster.py stands on: PostgreSQL databases, Redis,
free loopback ports, process trees, and the simulator's stepped clock and tap.

Shared by the distributed test (tests/orchestration/test_distributed.py) and ``make bench-scale``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
PG_PORT = int(os.environ.get("TEST_PG_PORT", "5432"))
REDIS_PORT = int(os.environ.get("TEST_REDIS_PORT", "6379"))
#: Redis database number of these runs (0 is everyone's default); queues are named per run besides.
REDIS_DB = 13


class ServiceMissing(RuntimeError):
    """A service the cluster needs (PostgreSQL, Redis, moto_server, Airflow) is not there."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def wait_port(port: int, seconds: float, alive: Callable[[], bool] = lambda: True) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and alive():
        try:
            with socket.create_connection((HOST, port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def check_services() -> None:
    """Raise :class:`ServiceMissing` naming what is absent (the test skips or fails on it)."""
    exe = Path(sys.executable).parent
    for name, hint in (("airflow", "the airflow extra"), ("moto_server", "moto[server], the dev extra")):
        if not (exe / name).exists():
            raise ServiceMissing(f"{exe / name} is not installed ({hint}: make install-dev)")
    for module, extra in (("airflow.providers.celery", "celery"), ("psycopg", "postgres")):
        try:
            __import__(module)
        except ImportError as exc:
            raise ServiceMissing(f"{module} is not importable ({exc}): install the {extra} extra") from None
    for what, port in (("PostgreSQL", PG_PORT), ("Redis", REDIS_PORT)):
        try:
            socket.create_connection((HOST, port), timeout=2).close()
        except OSError as exc:
            raise ServiceMissing(f"{what} on {HOST}:{port} is not reachable ({exc})") from None


# --------------------------------------------------------------------------------------------
# PostgreSQL and Redis
# --------------------------------------------------------------------------------------------


def _pg_admin() -> Any:
    import psycopg

    return psycopg.connect(
        host=HOST, port=PG_PORT, user="postgres", dbname="postgres", autocommit=True, connect_timeout=5
    )


def create_database(prefix: str) -> str:
    name = f"{prefix}{uuid.uuid4().hex[:12]}"
    with _pg_admin() as conn:
        conn.execute(f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0")
    return name


def drop_database(name: str) -> None:
    with _pg_admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def pg_url(database: str, driver: str = "postgresql+psycopg") -> str:
    return f"{driver}://postgres@{HOST}:{PG_PORT}/{database}"


def redis_forget(queue: str) -> None:
    """Remove this run's keys from the shared Redis database: its queue, its binding, and the
    unacknowledged message of a killed worker (kombu would re-queue it hours later)."""
    import redis

    client = redis.Redis(host=HOST, port=REDIS_PORT, db=REDIS_DB, socket_timeout=5)
    try:
        client.delete(queue, f"_kombu.binding.{queue}")
        for tag, payload in client.hgetall("unacked").items():
            if queue.encode() in payload:
                client.hdel("unacked", tag)
                client.zrem("unacked_index", tag)
    finally:
        client.close()


# --------------------------------------------------------------------------------------------
# The simulator: a clock the caller steps, and a tap on what it served
# --------------------------------------------------------------------------------------------


class SteppedClock:
    """Simulated time that the caller sets to each poll's moment and that runs on in real time
    in between (so a rate-limit window refills as it would, and tasks see time pass)."""

    def __init__(self, start: datetime) -> None:
        self._lock = threading.Lock()
        self._base, self._anchor = start, time.monotonic()

    def now(self) -> datetime:
        with self._lock:
            return self._base + timedelta(seconds=time.monotonic() - self._anchor)

    def set(self, when: datetime) -> None:
        with self._lock:
            self._base, self._anchor = when, time.monotonic()


@dataclass
class SpotifyTap:
    """What the simulator answered, per listener: calls by endpoint, 429s, plays shown."""

    sim: Any
    calls: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    shown: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    throttled: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _user(self, environ: dict[str, Any]) -> str:
        auth = str(environ.get("HTTP_AUTHORIZATION", ""))
        token = auth.removeprefix("Bearer ").strip()
        record = self.sim.state.access_tokens.get(token) if token else None
        return str(record.user_id) if record is not None else "(app)"

    def wrap(self, app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
        def tapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            status: list[str] = []

            def remember(code: str, headers: Any, *exc: Any) -> Any:
                status.append(code)
                return start_response(code, headers, *exc)

            user, path = self._user(environ), str(environ.get("PATH_INFO", ""))
            body = b"".join(app(environ, remember))
            code = int(status[0].split()[0]) if status else 0
            endpoint = f"{environ.get('REQUEST_METHOD')} {_endpoint(path)}"
            with self._lock:
                self.calls[user][endpoint] += 1
                self.throttled += code == 429
                if code == 200 and path.endswith("/me/player/recently-played"):
                    items = json.loads(body).get("items") or []
                    self.shown[user].update(str(item["played_at"]) for item in items)
            return [body]

        return tapped


def _endpoint(path: str) -> str:
    parts = path.split("/")
    if len(parts) == 4 and parts[2] in ("artists", "albums", "tracks"):
        return f"/v1/{parts[2]}/{{id}}"
    return path


def parent_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])  # the field after the state


def process_tree(root: int) -> list[int]:
    """``root`` and its descendants, from /proc (Linux), parents first."""
    children: dict[int, list[int]] = defaultdict(list)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            parent = parent_of(int(entry.name))
            if parent is not None:
                children[parent].append(int(entry.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def signal_group(popen: subprocess.Popen[bytes], sig: int) -> None:
    try:
        os.killpg(popen.pid, sig)  # start_new_session: the group id is the leader's pid
    except (ProcessLookupError, PermissionError):
        pass


def airflow_exe() -> str:
    return str(Path(sys.executable).with_name("airflow"))


def fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()
