"""No secret shown by the Airflow DAGs: ``dag.test()`` of the three DAGs with recognisable secrets.

The connections carry marked secrets (the Spotify app's client secret in ``spotify_default``, AWS
keys in ``aws_default``, the MariaDB user's password in ``spotify_warehouse``) and the simulator
mints marked access and refresh tokens. The stored access token has expired, so the first task
refreshes it with the client secret. Then everything Airflow and the pipeline wrote is scanned:
every log record (DEBUG), the task log as ``dag.test()`` prints it, the task log files under
AIRFLOW_HOME/logs, every row of Airflow's metadata database (XCom included), every raw object in the
bucket, and every warehouse table. The token store is the one place allowed to hold the tokens.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from tests.test_secrets_scan import (
    AWS_KEY_ID,
    AWS_SECRET,
    MARK,
    _assert_clean,
    _scan_bucket,
    _scan_logs,
    _scan_warehouse,
    marked_tokens,  # noqa: F401 - a fixture, used by name
    secret_db_url,  # noqa: F401 - a fixture, used by name
)

from .conftest import AIRFLOW_HOME, DAG_IDS
from .test_dags_end_to_end import (
    _write_token_file,
    dags,  # noqa: F401 - a fixture, used by name
    run_dag,
)

pytestmark = pytest.mark.airflow

CLIENT_SECRET = f"{MARK}airflowclientsecret0123"


def _metadata_db_path() -> Path:
    """Airflow's metadata database, from the configuration the tasks ran with."""
    url = sa.engine.make_url(os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    assert url.get_backend_name() == "sqlite" and url.database, url
    return Path(url.database)


@pytest.fixture()
def secret_connections(
    airflow_db: Path,
    marked_tokens: None,  # noqa: F811 - the fixture imported above
    secret_db_url: str,  # noqa: F811 - the fixture imported above
    s3_bucket: tuple[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[str, str, str, Path]]:
    """The simulator served on loopback and the three connections holding marked secrets;
    yields (endpoint, bucket, warehouse URL, token file)."""
    from spotify_pipeline.clock import ManualClock
    from spotify_pipeline.simulator import Simulator, SimulatorConfig, serve

    for name in [n for n in os.environ if n.startswith("SPOTIFY_PIPELINE_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    # The deploy step (`spotify-pipeline db upgrade`): tasks never migrate the warehouse themselves.
    from spotify_pipeline.warehouse.engine import make_engine, upgrade

    engine = make_engine(secret_db_url)
    upgrade(engine)
    engine.dispose()
    now = datetime.now(UTC).replace(microsecond=0)
    sim = Simulator(SimulatorConfig(seed=13, rate_limit_per_30s=5000), clock=ManualClock(now))
    sim.add_user("alice", "typical", since=now - timedelta(days=3))
    app = sim.register_app(["http://127.0.0.1/callback"], client_secret=CLIENT_SECRET)
    grant = sim.grant("alice", client_id=app.client_id, pkce=False)
    token_file = tmp_path / "shared" / "tokens.json"
    # Expired: the first task refreshes, sending the client secret and storing new marked tokens.
    _write_token_file(token_file, grant, app.client_id, now - timedelta(minutes=1))
    endpoint, bucket = s3_bucket
    url = sa.engine.make_url(secret_db_url)
    with serve(sim) as info:
        spotify = {
            "conn_type": "generic",
            "login": app.client_id,
            "password": CLIENT_SECRET,
            "extra": {
                "redirect_uri": "http://127.0.0.1/callback",
                "accounts_url": info.accounts_url,
                "api_url": info.api_url,
                "user": "alice",
                "token_file": str(token_file),
                "raw_zone": f"s3://{bucket}/raw",
            },
        }
        aws = {
            "conn_type": "aws",
            "login": AWS_KEY_ID,
            "password": AWS_SECRET,
            "extra": {"endpoint_url": endpoint, "region_name": "us-east-1"},
        }
        warehouse = {
            "conn_type": "mysql",
            "host": url.host,
            "port": url.port,
            "login": url.username,
            "password": url.password,
            "schema": url.database,
        }
        monkeypatch.setenv("AIRFLOW_CONN_SPOTIFY_DEFAULT", json.dumps(spotify))
        monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(aws))
        monkeypatch.setenv("AIRFLOW_CONN_SPOTIFY_WAREHOUSE", json.dumps(warehouse))
        # The S3 keys must come from the connection, not from the fixture's environment.
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            monkeypatch.delenv(name, raising=False)
        yield endpoint, bucket, secret_db_url, token_file


def _scan_task_log_files() -> int:
    """Every log file under this session's AIRFLOW_HOME; returns how many were read.

    All of them, not those modified since the test began: a modification time compared with the
    wall clock (coarse on some filesystems, written by another process) decides nothing here."""
    n = 0
    for path in (AIRFLOW_HOME / "logs").rglob("*"):
        if path.is_file():
            _assert_clean(f"Airflow log file {path}", path.read_text(errors="replace"))
            n += 1
    return n


def _scan_metadata_db(run_ids: dict[str, str]) -> int:
    """Every row of every table of Airflow's metadata database; returns the XCom rows of these runs.

    XCom is asserted present, not assumed: a scan of an empty table would prove nothing."""
    with sqlite3.connect(_metadata_db_path()) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        assert "xcom" in tables
        for table in tables:
            for row in db.execute(f'SELECT * FROM "{table}"'):  # noqa: S608 - names from sqlite_master
                _assert_clean(f"Airflow metadata table {table}", repr(row))
        xcoms = 0
        for dag_id, run_id in run_ids.items():
            rows = db.execute(
                "SELECT task_id, key, value FROM xcom WHERE dag_id = ? AND run_id = ?", (dag_id, run_id)
            ).fetchall()
            for task_id, key, value in rows:
                _assert_clean(f"XCom {dag_id}.{task_id}[{key}]", str(value))
            xcoms += len(rows)
    return xcoms


@pytest.mark.mysql
@pytest.mark.s3
@pytest.mark.slow
# Raised inside Airflow's own in-process execution API client, not by this project.
@pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")
def test_the_three_dags_show_no_secret(
    secret_connections: tuple[str, str, str, Path],
    dags: dict[str, Any],  # noqa: F811 - the fixture imported above
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    endpoint, bucket, warehouse_url, token_file = secret_connections
    caplog.set_level(logging.DEBUG)
    before = json.loads(token_file.read_text())
    results = {dag_id: run_dag(dags, dag_id) for dag_id in DAG_IDS}
    for dag_id, tasks in results.items():
        # A task may need its retry on a loaded machine (the listeners task once did): success,
        # whatever the attempt; the message names every task's state and attempt if not.
        states = {task: (state, tries) for task, (state, tries, _) in tasks.items()}
        assert {task: state for task, (state, _) in states.items()} == dict.fromkeys(tasks, "success"), (
            dag_id,
            states,
        )
    assert results["spotify_daily_data_pipeline"]["process_landed"][2]["counts"]["plays_inserted"] == 50

    # The scan has teeth: the tokens were refreshed (with the client secret) and carry the mark.
    after = json.loads(token_file.read_text())
    assert after["access_token"] != before["access_token"] and MARK in after["access_token"]
    assert MARK in after["refresh_token"]
    assert token_file.stat().st_mode & 0o777 == 0o600

    _scan_logs(caplog)
    printed = capfd.readouterr()
    assert "process_landed" in printed.out + printed.err  # dag.test() prints the task logs here
    _assert_clean("the task logs dag.test() printed", printed.out + printed.err)
    _scan_task_log_files()
    run_ids = {dag_id: _run_id(dag_id) for dag_id in DAG_IDS}
    assert _scan_metadata_db(run_ids) >= 4  # one return_value per task
    assert _scan_bucket(endpoint, bucket) > 0
    engine = sa.create_engine(warehouse_url)
    try:
        assert _scan_warehouse(engine) > 0
    finally:
        engine.dispose()
    for path in token_file.parent.parent.rglob("*"):
        if path.is_file() and path != token_file:
            _assert_clean(str(path), path.read_text(errors="replace"))


def _run_id(dag_id: str) -> str:
    """The run ``dag.test()`` just made for ``dag_id`` (the newest)."""
    with sqlite3.connect(_metadata_db_path()) as db:
        row = db.execute(
            "SELECT run_id FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1", (dag_id,)
        ).fetchone()
    assert row is not None, dag_id
    return str(row[0])


class _Received(logging.Handler):
    """Keeps what it is handed, after its filters ran: what a task log handler would write."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_a_task_masks_its_secrets_in_the_records_its_log_handlers_receive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression, found by the scan above: a task did not install the project's filter, so
    botocore's DEBUG line of a signed S3 request reached Airflow's task log with the AWS key id."""
    from spotify_pipeline.orchestration import airflow as glue
    from spotify_pipeline.redact import RedactingFilter
    from spotify_pipeline.settings import load_settings

    monkeypatch.chdir(tmp_path)  # no .env or TOML of a developer
    unique = uuid.uuid4().hex  # never registered by another test of this process
    key_id, aws_secret = f"AKIA{unique[:16].upper()}", f"aws-{unique}"
    client_secret, db_password = f"client-{unique}", f"db-{unique}"
    config = glue.RunConfig(
        load_settings(
            client_id="abc",
            client_secret=client_secret,
            warehouse_url=f"mysql+pymysql://u:{db_password}@127.0.0.1/db",
        ),
        glue.AwsCredentials(key_id, aws_secret),
    )
    task_logger = logging.getLogger(f"sp-test-task-{unique}")  # stands in for Airflow's root logger
    task_logger.propagate = False
    handler = _Received()
    task_logger.addHandler(handler)

    glue.mask_run_secrets(config, task_logger)
    glue.mask_run_secrets(config, task_logger)  # a second task in the same worker process
    task_logger.warning(
        "Sending http request: headers={'Authorization': b'AWS4-HMAC-SHA256 "
        "Credential=%s/20261129/us-east-1/s3/aws4_request'}; secret %s; client %s; db %s",
        key_id,
        aws_secret,
        client_secret,
        db_password,
    )

    assert sum(isinstance(f, RedactingFilter) for f in handler.filters) == 1
    message = handler.records[0].getMessage()
    for secret in (key_id, aws_secret, client_secret, db_password):
        assert secret not in message
    assert message.count("***") == 4
