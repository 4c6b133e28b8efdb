"""No secret shown anywhere: recognisable fake secrets go in, every output is scanned for them.

The secrets: the app's client secret and every access and refresh token (the simulator's token
generator is patched to mint recognisable ones), AWS keys (environment, for the S3 store), and a
database password (a MariaDB user created for the test). The scans: every log record at DEBUG
(message, arguments and traceback), every exception text, stdout/stderr of every CLI command (run end
to end against a simulator served on loopback), every raw object, every warehouse table, and the
demo's result. The DAGs get the same scan, plus XCom and Airflow's metadata database, in
tests/orchestration/test_dag_secrets.py, which reuses the helpers and fixtures below.

Covered elsewhere, referenced here rather than repeated:
- token files 0600 and written atomically: tests/spotify/test_tokens.py
  (test_file_store_writes_0600_in_a_0700_folder, test_a_crash_while_saving_leaves_the_old_file_intact,
  test_the_temp_file_is_never_readable_by_others);
- OAuth ``state`` checked: tests/spotify/test_login.py::test_a_state_mismatch_is_rejected;
  PKCE verifier: tests/spotify/test_auth.py (RFC 7636 vector, fresh pair, exchange sends the verifier);
- ``next`` URLs off the API origin refused: tests/spotify (paging tests);
- no SQL built by string formatting: tests/test_sql_not_formatted.py.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from tests.jobs.harness import World, make_world

from spotify_pipeline.errors import PipelineError
from spotify_pipeline.jobs import run_all
from spotify_pipeline.warehouse import schema

MARK = "ZQXSECRET"  # every fake secret contains this; nothing else in the project does
AWS_KEY_ID, AWS_SECRET = f"AKIA{MARK}KEYID", f"{MARK}awssecretaccesskey0123456789"
DB_PASSWORD = f"{MARK}-db-pw-7f3a"


@pytest.fixture()
def marked_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every token and client secret the simulator mints carries MARK."""
    counter = itertools.count()

    def token(nbytes: int = 48) -> str:
        return f"{MARK}{next(counter):04d}{uuid.uuid4().hex}"

    import spotify_pipeline.simulator.accounts as accounts
    import spotify_pipeline.simulator.app as app
    import spotify_pipeline.simulator.state as state

    for module in (accounts, app, state):
        monkeypatch.setattr(module, "new_token", token)


def _assert_clean(where: str, text: str) -> None:
    assert MARK not in text, (
        f"a secret appears in {where}: ...{text[max(0, text.find(MARK) - 80) : text.find(MARK) + 40]}..."
    )


@pytest.fixture(autouse=True)
def _redacting_handler(caplog: pytest.LogCaptureFixture) -> None:
    """Log records pass the project's filter on their way to a handler, as `setup_logging` installs it
    on every handler the CLI and the DAGs log through; the scan reads what a handler received."""
    from spotify_pipeline.redact import RedactingFilter

    caplog.handler.addFilter(RedactingFilter())


def _scan_logs(caplog: pytest.LogCaptureFixture) -> None:
    formatter = logging.Formatter("%(message)s")
    for record in caplog.records:
        _assert_clean(f"log record {record.name}", formatter.format(record) + repr(record.args))


def _scan_warehouse(engine: sa.engine.Engine) -> int:
    """Every row of every table the database holds (reflected, so a table added later is scanned too);
    returns the number of rows read."""
    tables = sa.MetaData()
    tables.reflect(engine)
    assert set(schema.metadata.tables) <= set(tables.tables), "the scan must see the project's tables"
    n = 0
    with engine.connect() as conn:
        for name, table in tables.tables.items():
            for row in conn.execute(sa.select(table)):
                _assert_clean(f"warehouse table {name}", repr(tuple(row)))
                n += 1
    return n


def _scan_bucket(endpoint: str, bucket: str) -> int:
    """Every object in the bucket, read with the moto server's own keys; returns how many."""
    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    n = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
            _assert_clean(f"s3://{bucket}/{obj['Key']}", obj["Key"] + body.decode("utf-8", "replace"))
            n += 1
    return n


def _scan_store(world: World) -> int:
    rt = world.fresh_runtime()
    n = 0
    for info in rt.store.list(""):
        _assert_clean(f"raw object {info.key}", (rt.store.get(info.key) or b"").decode("utf-8", "replace"))
        n += 1
    return n


def test_the_demo_shows_no_secret(
    tmp_path: Path, marked_tokens: None, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    from spotify_pipeline.jobs.demo import demo_settings, run_demo

    caplog.set_level(logging.DEBUG)
    settings = demo_settings(tmp_path / "demo")
    result = run_demo(settings, days=1, poll_minutes=120)
    assert result.captured_plays > 0
    _assert_clean("the demo result", json.dumps(result.to_dict(), default=str))
    _scan_logs(caplog)
    out = capsys.readouterr()
    _assert_clean("stdout/stderr", out.out + out.err)
    for path in (tmp_path / "demo").rglob("*"):
        if path.is_file() and path.suffix != ".db":
            _assert_clean(str(path), path.read_text(errors="replace"))
    _scan_warehouse(sa.create_engine(f"sqlite:///{tmp_path / 'demo' / 'warehouse.db'}"))


@pytest.fixture()
def secret_db_url(mysql_url: str) -> Any:
    """The test database, reached as a MariaDB user whose password is recognisable."""
    import pymysql

    url = sa.engine.make_url(mysql_url)
    # One user per test database: runs sharing the server never drop each other's user.
    user = "sp_secret_" + str(url.database)[-12:]
    admin = pymysql.connect(host=url.host, port=url.port or 3306, user="root", password="", autocommit=True)
    with admin.cursor() as cur:
        cur.execute(f"CREATE USER IF NOT EXISTS '{user}'@'127.0.0.1' IDENTIFIED BY %s", (DB_PASSWORD,))
        cur.execute(f"GRANT ALL PRIVILEGES ON `{url.database}`.* TO '{user}'@'127.0.0.1'")
    try:
        yield url.set(username=user, password=DB_PASSWORD).render_as_string(hide_password=False)
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP USER IF EXISTS '{user}'@'127.0.0.1'")
        admin.close()


@pytest.mark.mysql
@pytest.mark.s3
def test_the_job_flows_and_their_failures_show_no_secret(
    tmp_path: Path,
    marked_tokens: None,
    secret_db_url: str,
    s3_bucket: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    endpoint, bucket = s3_bucket
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", AWS_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", AWS_SECRET)
    caplog.set_level(logging.DEBUG)
    world = make_world(
        tmp_path, warehouse_url=secret_db_url, raw_zone=f"s3://{bucket}/spotify", s3_endpoint_url=endpoint
    )
    token = json.loads(world.settings.token_file.read_text())
    assert MARK in token["refresh_token"] and MARK in token["access_token"]
    errors: list[str] = []
    for _ in range(4):
        world.clock.advance(timedelta(hours=2))
        run_all(world.settings, runtime=world.fresh_runtime(), force_enrich=True)
    # failures: a revoked login, a 5xx burst past the retries, a bad warehouse password
    world.clock.advance(timedelta(hours=2))
    world.sim.revoke_refresh_token(json.loads(world.settings.token_file.read_text())["refresh_token"])
    with pytest.raises(PipelineError) as revoked:
        run_all(world.settings, runtime=world.fresh_runtime())
    errors.append(str(revoked.value))
    bad = world.settings.model_copy(
        update={
            "warehouse_url": sa.engine.make_url(secret_db_url)
            .set(password=DB_PASSWORD + "x")
            .render_as_string(hide_password=False)
        }
    )
    with pytest.raises(Exception) as refused:  # noqa: PT011 - any failure; its text is what matters
        from spotify_pipeline.jobs.runtime import Runtime

        Runtime(bad).engine  # noqa: B018
    errors.append(str(refused.value) + repr(refused.value))
    for text in errors:
        _assert_clean("an exception", text)
    _scan_logs(caplog)
    out = capsys.readouterr()
    _assert_clean("stdout/stderr", out.out + out.err)
    assert _scan_store(world) > 0
    _scan_warehouse(world.runtime.engine)


@pytest.fixture()
def secret_target_db_url(secret_db_url: str) -> Any:
    """A second, empty database for `rebuild --target-url`, reached as the same secret-password user."""
    import pymysql

    url = sa.engine.make_url(secret_db_url)
    name = f"{url.database}_rebuilt"
    admin = pymysql.connect(host=url.host, port=url.port or 3306, user="root", password="", autocommit=True)
    with admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        # rebuild builds beside its target and swaps the tables in (warehouse/staging.py).
        for db in (name, f"{name}__rebuild", f"{name}__old"):
            cur.execute(f"GRANT ALL PRIVILEGES ON `{db}`.* TO '{url.username}'@'127.0.0.1'")
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.cursor() as cur:
            for db in (name, f"{name}__rebuild", f"{name}__old"):
                cur.execute(f"DROP DATABASE IF EXISTS `{db}`")
        admin.close()


@pytest.mark.mysql
@pytest.mark.s3
def test_cli_commands_against_a_served_simulator_show_no_secret(
    tmp_path: Path,
    marked_tokens: None,
    secret_db_url: str,
    secret_target_db_url: str,
    s3_bucket: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Every command end to end, as a person runs them: a browser login to a confidential app, then
    S3 and MariaDB reached with marked credentials, logging at DEBUG."""
    from datetime import UTC, datetime

    from tests.cli.test_commands import _login, runner

    from spotify_pipeline.cli.main import app
    from spotify_pipeline.simulator import Simulator, SimulatorConfig, serve

    endpoint, bucket = s3_bucket
    client_secret = f"{MARK}clientsecret0123456789"
    sim = Simulator(SimulatorConfig(seed=5))
    now = datetime.now(UTC)
    sim.add_user("scan-user", profile="heavy", since=now - timedelta(days=2))
    confidential = sim.register_app(["http://127.0.0.1/callback"], client_secret=client_secret)
    export = tmp_path / "export"
    sim.write_export("scan-user", export, kind="extended", start=now - timedelta(days=2), end=now)
    token_file = tmp_path / "secrets" / "tokens.json"
    caplog.set_level(logging.DEBUG)
    monkeypatch.chdir(tmp_path)
    for key in [k for k in os.environ if k.startswith("SPOTIFY_PIPELINE_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", AWS_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", AWS_SECRET)
    outputs: list[tuple[str, Any]] = []
    with serve(sim) as info:
        env = {
            "ACCOUNTS_URL": info.accounts_url,
            "API_URL": info.api_url,
            "CLIENT_ID": confidential.client_id,
            "CLIENT_SECRET": client_secret,
            "REDIRECT_URI": "http://127.0.0.1/callback",
            "USER": "scan-user",
            "RAW_ZONE": f"s3://{bucket}/spotify",
            "S3_ENDPOINT_URL": endpoint,
            "S3_REGION": "us-east-1",
            "WAREHOUSE_URL": secret_db_url,
            "TOKEN_FILE": str(token_file),
            "LOG_LEVEL": "DEBUG",
        }
        for key, value in env.items():
            monkeypatch.setenv("SPOTIFY_PIPELINE_" + key, value)
        _login(monkeypatch)
        commands = [
            ["init"],
            ["db", "upgrade"],
            ["auth", "status"],
            ["auth", "status", "--json"],
            ["fetch", "recent"],
            ["fetch", "following"],
            ["process"],
            ["enrich"],
            ["run"],
            ["status", "--json"],
            ["status"],
            ["config", "show"],
            ["config", "show", "--json"],
            ["import-history", str(export)],
            ["coverage"],
            ["rebuild", "--target-url", secret_target_db_url],
        ]
        for args in commands:
            result = runner.invoke(app, args)
            assert result.exit_code == 0, f"spotify-pipeline {' '.join(args)}: {result.output}"
            outputs.append((" ".join(args), result))

    tokens = json.loads(token_file.read_text())
    assert MARK in tokens["access_token"] and MARK in tokens["refresh_token"]  # the scan has teeth
    assert token_file.stat().st_mode & 0o777 == 0o600
    assert json.loads(dict(outputs)["status --json"].stdout)["counts"]["plays"] > 0
    for command, result in outputs:
        # CliRunner's output interleaves stdout and stderr (click >= 8.2).
        _assert_clean(f"`spotify-pipeline {command}` output", result.output + repr(result.exception))
    _scan_logs(caplog)
    for path in tmp_path.rglob("*"):
        if path.is_file() and path != token_file:
            _assert_clean(str(path), path.read_text(errors="replace"))
    assert _scan_bucket(endpoint, bucket) > 0
    for url in (secret_db_url, secret_target_db_url):
        engine = sa.create_engine(url)
        try:
            assert _scan_warehouse(engine) > 0
        finally:
            engine.dispose()


def test_aws_signature_headers_are_masked() -> None:
    """Found by the flow scan above: botocore logs the signed request's Authorization header at DEBUG."""
    from spotify_pipeline.redact import redact

    header = (
        f"'Authorization': b'AWS4-HMAC-SHA256 Credential={AWS_KEY_ID}/20261129/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=8803422ea4c4f339692b784f529f90bc26034abce0f16cae03a39b4d02b2df77'"
    )
    masked = redact(header)
    assert AWS_KEY_ID not in masked and "8803422ea4c4" not in masked
    assert "SignedHeaders=host;x-amz-date" in masked
