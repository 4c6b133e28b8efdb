"""No secret shown anywhere: recognisable fake secrets go in, every output is scanned for them.

The secrets: the app's client secret and every access and refresh token (the simulator's token
generator is patched to mint recognisable ones), AWS keys (environment, for the S3 store), and a
database password (a MariaDB user created for the test). The scans: every log record at DEBUG
(message, arguments and traceback), every exception text, stdout/stderr of every CLI command, every
raw object, every warehouse table, and the demo's result.

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
    assert MARK not in text, f"a secret appears in {where}: ...{text[max(0, text.find(MARK) - 80):text.find(MARK) + 40]}..."


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


def _scan_warehouse(engine: sa.engine.Engine) -> None:
    with engine.connect() as conn:
        for name, table in schema.metadata.tables.items():
            for row in conn.execute(sa.select(table)):
                _assert_clean(f"warehouse table {name}", repr(tuple(row)))


def _scan_store(world: World) -> int:
    rt = world.fresh_runtime()
    n = 0
    for info in rt.store.list(""):
        _assert_clean(f"raw object {info.key}", (rt.store.get(info.key) or b"").decode("utf-8", "replace"))
        n += 1
    return n


def test_the_demo_shows_no_secret(tmp_path: Path, marked_tokens: None, caplog: pytest.LogCaptureFixture,
                                  capsys: pytest.CaptureFixture[str]) -> None:
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
    admin = pymysql.connect(host=url.host, port=url.port or 3306, user="root", password="", autocommit=True)
    with admin.cursor() as cur:
        cur.execute("CREATE USER IF NOT EXISTS 'sp_secret_test'@'127.0.0.1' IDENTIFIED BY %s", (DB_PASSWORD,))
        cur.execute(f"GRANT ALL PRIVILEGES ON `{url.database}`.* TO 'sp_secret_test'@'127.0.0.1'")
    try:
        yield url.set(username="sp_secret_test", password=DB_PASSWORD).render_as_string(hide_password=False)
    finally:
        with admin.cursor() as cur:
            cur.execute("DROP USER IF EXISTS 'sp_secret_test'@'127.0.0.1'")
        admin.close()


@pytest.mark.mysql
@pytest.mark.s3
def test_the_job_flows_and_their_failures_show_no_secret(
    tmp_path: Path, marked_tokens: None, secret_db_url: str, s3_bucket: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str],
) -> None:
    endpoint, bucket = s3_bucket
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", AWS_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", AWS_SECRET)
    caplog.set_level(logging.DEBUG)
    world = make_world(tmp_path, warehouse_url=secret_db_url, raw_zone=f"s3://{bucket}/spotify", s3_endpoint_url=endpoint)
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
    bad = world.settings.model_copy(update={"warehouse_url": sa.engine.make_url(secret_db_url).set(
        password=DB_PASSWORD + "x").render_as_string(hide_password=False)})
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


def test_cli_commands_show_no_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     caplog: pytest.LogCaptureFixture) -> None:
    from typer.testing import CliRunner

    from spotify_pipeline.cli.main import app

    caplog.set_level(logging.DEBUG)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SPOTIFY_PIPELINE_CLIENT_ID", "0123456789abcdef0123456789abcdef")
    monkeypatch.setenv("SPOTIFY_PIPELINE_CLIENT_SECRET", f"{MARK}clientsecret")
    monkeypatch.setenv("SPOTIFY_PIPELINE_WAREHOUSE_URL", f"sqlite:///{tmp_path / 'w.db'}")
    monkeypatch.setenv("SPOTIFY_PIPELINE_RAW_ZONE", str(tmp_path / "raw"))
    monkeypatch.setenv("SPOTIFY_PIPELINE_TOKEN_FILE", str(tmp_path / "tokens.json"))
    monkeypatch.setenv("SPOTIFY_PIPELINE_API_URL", "http://127.0.0.1:9/v1")  # nothing listens there
    monkeypatch.setenv("SPOTIFY_PIPELINE_ACCOUNTS_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("SPOTIFY_PIPELINE_MAX_RETRIES", "0")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", AWS_SECRET)
    (tmp_path / "tokens.json").write_text(json.dumps({
        "access_token": f"{MARK}access", "refresh_token": f"{MARK}refresh", "token_type": "Bearer",
        "expires_at": "2020-01-01T00:00:00+00:00", "consented_at": "2020-01-01T00:00:00+00:00",
        "scope": "user-read-recently-played user-follow-read", "client_id": "0123456789abcdef0123456789abcdef"}))
    (tmp_path / "tokens.json").chmod(0o600)
    runner = CliRunner()
    commands = [["init"], ["db", "upgrade"], ["config", "show"], ["status"], ["status", "--json"],
                ["auth", "status"], ["auth", "status", "--json"], ["fetch", "recent"], ["fetch", "following"],
                ["process"], ["enrich"], ["run"], ["coverage"]]
    for args in commands:
        result = runner.invoke(app, args)
        _assert_clean(f"`spotify-pipeline {' '.join(args)}` output", result.output + repr(result.exception))
    _scan_logs(caplog)


def test_aws_signature_headers_are_masked() -> None:
    """Found by the flow scan above: botocore logs the signed request's Authorization header at DEBUG."""
    from spotify_pipeline.redact import redact

    header = (f"'Authorization': b'AWS4-HMAC-SHA256 Credential={AWS_KEY_ID}/20261129/us-east-1/s3/aws4_request, "
              "SignedHeaders=host;x-amz-date, Signature=8803422ea4c4f339692b784f529f90bc26034abce0f16cae03a39b4d02b2df77'")
    masked = redact(header)
    assert AWS_KEY_ID not in masked and "8803422ea4c4" not in masked
    assert "SignedHeaders=host;x-amz-date" in masked
