"""Shared test fixtures: paths to the real Spotify fixtures, a MariaDB database per test session,
and a moto S3 server on a free loopback port.

In CI (CI=true) the MariaDB and S3 tests must run: an unreachable server fails them, never skips.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "spotify"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
MYSQL_HOST = os.environ.get("TEST_MYSQL_HOST", "127.0.0.1")
MYSQL_PORT = int(os.environ.get("TEST_MYSQL_PORT", "3306"))


def load_fixture(relpath: str) -> Any:
    """A real recorded Spotify response from tests/fixtures/spotify (JSON parsed, text otherwise)."""
    path = FIXTURES / relpath
    text = path.read_text(encoding="utf-8")
    return json.loads(text) if path.suffix == ".json" else text


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES


def _unavailable(what: str, why: str) -> None:
    msg = f"{what} is not reachable: {why}"
    if IN_CI:
        pytest.fail(msg + " (CI=true: this test must run; `make test` starts the services)")
    pytest.skip(msg)


@pytest.fixture(scope="session")
def mysql_server_url() -> Iterator[str]:
    """Base URL of the MariaDB server (root, empty password)."""
    try:
        import pymysql
    except ImportError as exc:  # pragma: no cover - dev extra missing
        _unavailable("pymysql", str(exc))
    try:
        conn = pymysql.connect(host=MYSQL_HOST, port=MYSQL_PORT, user="root", password="", connect_timeout=3)
        conn.close()
    except Exception as exc:  # noqa: BLE001
        _unavailable(f"MariaDB on {MYSQL_HOST}:{MYSQL_PORT}", str(exc))
    yield f"mysql+pymysql://root:@{MYSQL_HOST}:{MYSQL_PORT}"


@pytest.fixture()
def mysql_url(mysql_server_url: str) -> Iterator[str]:
    """A fresh, empty MariaDB database for one test, dropped afterwards (tests may run in parallel)."""
    import pymysql

    name = "sp_test_" + uuid.uuid4().hex[:12]
    conn = pymysql.connect(host=MYSQL_HOST, port=MYSQL_PORT, user="root", password="", autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        yield f"{mysql_server_url}/{name}?charset=utf8mb4"
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        conn.close()


PG_HOST = os.environ.get("TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("TEST_PG_PORT", "5432"))


def _pg_admin() -> Any:
    import psycopg

    return psycopg.connect(
        host=PG_HOST, port=PG_PORT, user="postgres", dbname="postgres", autocommit=True, connect_timeout=3
    )


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """Base URL of the PostgreSQL server (user postgres, trust authentication)."""
    try:
        import psycopg  # noqa: F401
    except ImportError as exc:  # the postgres extra missing: CI installs it (make install-dev)
        _unavailable("psycopg", str(exc))
    try:
        _pg_admin().close()
    except Exception as exc:  # noqa: BLE001
        _unavailable(f"PostgreSQL on {PG_HOST}:{PG_PORT}", str(exc))
    yield f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}"


def create_pg_database(prefix: str = "sp_test_") -> str:
    name = prefix + uuid.uuid4().hex[:12]
    with _pg_admin() as conn:
        conn.execute(f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0")
    return name


def drop_pg_database(name: str) -> None:
    with _pg_admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture()
def postgres_url(postgres_server_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    name = create_pg_database()
    try:
        yield f"{postgres_server_url}/{name}"
    finally:
        drop_pg_database(name)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """A moto S3 server on a free loopback port; yields its endpoint URL and stops it afterwards."""
    exe = shutil.which("moto_server") or str(Path(sys.executable).with_name("moto_server"))
    if not Path(exe).exists():
        _unavailable("moto_server", "not installed (pip install 'moto[server]')")
    port = _free_port()
    proc = subprocess.Popen(
        [exe, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            time.sleep(0.05)
    else:
        proc.kill()
        _unavailable("moto_server", "did not start within 20 s")
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture()
def s3_bucket(s3_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str]]:
    """A fresh bucket on the moto server; yields (endpoint_url, bucket). Fake credentials are set."""
    import boto3

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    bucket = "sp-test-" + uuid.uuid4().hex[:12]
    s3 = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1")
    s3.create_bucket(Bucket=bucket)
    yield s3_server, bucket
