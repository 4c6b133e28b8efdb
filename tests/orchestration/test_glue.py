"""The Airflow glue without a scheduler: connections -> Settings, the run's hour, job outcomes."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from spotify_pipeline.errors import AuthError, ConfigError, LoginRequired, RateLimitPaused
from spotify_pipeline.jobs import JobReport
from spotify_pipeline.orchestration import airflow as glue
from spotify_pipeline.orchestration import airflow_connections as connections

pytestmark = pytest.mark.airflow


@dataclass
class FakeConnection:
    conn_type: str | None = "generic"
    host: str | None = None
    login: str | None = None
    password: str | None = None
    schema: str | None = None
    port: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def extra_dejson(self) -> dict[str, Any]:
        return dict(self.extra)


def getter(conns: dict[str, FakeConnection]) -> glue.ConnectionGetter:
    return conns.get


@pytest.fixture(autouse=True)
def _no_stray_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Settings also read SPOTIFY_PIPELINE_* and ./.env: keep a developer's own config out.
    for name in [n for n in os.environ if n.startswith("SPOTIFY_PIPELINE_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path / "airflow-home"))


def spotify_conn(**extra: Any) -> FakeConnection:
    return FakeConnection(
        login="client-123",
        password="app-secret-xyz",
        extra={"redirect_uri": "http://127.0.0.1:9999/cb", "user": "alice", **extra},
    )


def test_spotify_and_mysql_connections_make_settings() -> None:
    warehouse = FakeConnection(
        conn_type="mysql", host="db.internal", port=3307, login="etl", password="p@ss:w/rd", schema="spotify"
    )
    config = glue.build_run_config(
        getter(
            {"spotify_default": spotify_conn(api_url="http://127.0.0.1:1/v1"), "spotify_warehouse": warehouse}
        )
    )
    s = config.settings
    assert s.client_id == "client-123"
    assert s.client_secret is not None and s.client_secret.get_secret_value() == "app-secret-xyz"
    assert (s.redirect_uri, s.user, s.api_url) == (
        "http://127.0.0.1:9999/cb",
        "alice",
        "http://127.0.0.1:1/v1",
    )
    # The password is URL-escaped, the charset is utf8mb4, and nothing shows it in a repr.
    from sqlalchemy.engine import make_url

    url = make_url(s.warehouse_url.get_secret_value())
    assert (url.drivername, url.host, url.port, url.database) == (
        "mysql+pymysql",
        "db.internal",
        3307,
        "spotify",
    )
    assert url.password == "p@ss:w/rd" and url.query["charset"] == "utf8mb4"
    assert "p@ss" not in repr(s) and "app-secret-xyz" not in repr(s)
    # Defaults a worker can write, under AIRFLOW_HOME, not the CLI's CWD-relative ones.
    home = Path(os.environ["AIRFLOW_HOME"]) / "spotify-pipeline"
    assert s.token_file == home / "tokens.json"
    assert s.raw_zone == str(home / "raw")
    assert config.aws_credentials is None


def test_pkce_app_without_secret_and_sqlalchemy_url_extra() -> None:
    spotify = spotify_conn(token_file="/mnt/spotify-tokens/tokens.json", user_partition="true")
    spotify.password = ""
    warehouse = FakeConnection(conn_type="generic", extra={"sqlalchemy_url": "sqlite:////data/wh.db"})
    s = glue.build_run_config(getter({"spotify_default": spotify, "spotify_warehouse": warehouse})).settings
    assert s.client_secret is None
    assert s.token_file == Path("/mnt/spotify-tokens/tokens.json")
    assert s.user_partition is True
    assert s.warehouse_url.get_secret_value() == "sqlite:////data/wh.db"


def test_sqlite_connection_host_is_the_file() -> None:
    warehouse = FakeConnection(conn_type="sqlite", host="/var/lib/spotify/wh.db")
    s = glue.build_run_config(
        getter({"spotify_default": spotify_conn(), "spotify_warehouse": warehouse})
    ).settings
    assert s.warehouse_url.get_secret_value() == "sqlite:////var/lib/spotify/wh.db"


def test_s3_raw_zone_takes_endpoint_region_and_keys_from_the_named_aws_connection() -> None:
    aws = FakeConnection(
        conn_type="aws",
        login="AKIAEXAMPLE",
        password="aws-secret-key",
        extra={"endpoint_url": "http://127.0.0.1:9000", "region_name": "eu-west-1"},
    )
    conns = {
        "spotify_default": spotify_conn(raw_zone="s3://bucket/raw", aws_conn_id="minio"),
        "spotify_warehouse": FakeConnection(conn_type="sqlite", host="/tmp/wh.db"),
        "minio": aws,
    }
    config = glue.build_run_config(getter(conns))
    assert config.settings.raw_zone == "s3://bucket/raw"
    assert config.settings.s3_endpoint_url == "http://127.0.0.1:9000"
    assert config.settings.s3_region == "eu-west-1"
    assert config.aws_credentials is not None
    assert "aws-secret-key" not in repr(config.aws_credentials) and "AKIA" not in repr(config)


def test_s3_without_aws_connection_uses_the_default_chain() -> None:
    conns = {
        "spotify_default": spotify_conn(raw_zone="s3://bucket/raw"),
        "spotify_warehouse": FakeConnection(conn_type="sqlite", host="/tmp/wh.db"),
    }
    config = glue.build_run_config(getter(conns))
    assert config.aws_credentials is None and config.settings.s3_endpoint_url is None


def test_aws_environment_is_set_for_the_job_and_restored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "outer")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)
    monkeypatch.setenv("AWS_SESSION_TOKEN", "outer-session")
    with glue.aws_environment(glue.AwsCredentials("inner", "inner-secret")):
        assert os.environ["AWS_ACCESS_KEY_ID"] == "inner"
        assert os.environ["AWS_SECRET_ACCESS_KEY"] == "inner-secret"
        assert "AWS_SESSION_TOKEN" not in os.environ  # a stale session token would poison the keys
    assert os.environ["AWS_ACCESS_KEY_ID"] == "outer"
    assert "AWS_SECRET_ACCESS_KEY" not in os.environ
    assert os.environ["AWS_SESSION_TOKEN"] == "outer-session"


@pytest.mark.parametrize(
    ("conns", "expected"),
    [
        ({}, "connection 'spotify_default' is not defined"),
        ({"spotify_default": spotify_conn()}, "connection 'spotify_warehouse' is not defined"),
        (
            {"spotify_default": spotify_conn(), "spotify_warehouse": FakeConnection(conn_type="oracle")},
            "has type 'oracle': use mysql",
        ),
        (
            {
                "spotify_default": spotify_conn(),
                "spotify_warehouse": FakeConnection(conn_type="mysql", host="h"),
            },
            "needs a host and a schema",
        ),
        (
            {
                "spotify_default": spotify_conn(raw_zone="ftp://nope"),
                "spotify_warehouse": FakeConnection(conn_type="sqlite", host="/tmp/wh.db"),
            },
            "raw_zone",
        ),
    ],
)
def test_configuration_errors_name_what_to_fix(conns: dict[str, FakeConnection], expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        glue.build_run_config(getter(conns))


def test_run_hour_is_the_end_of_the_data_interval() -> None:
    import pendulum

    context = {"data_interval_end": pendulum.datetime(2026, 11, 29, 12, 10, tz="UTC")}
    hour = glue.run_hour(context)
    assert hour == datetime(2026, 11, 29, 12, tzinfo=UTC) and type(hour) is datetime
    # A non-UTC aware time is converted, not misread.
    cet = pendulum.datetime(2026, 11, 29, 13, 10, tz="Europe/Paris")
    assert glue.run_hour({"data_interval_end": cet}) == datetime(2026, 11, 29, 12, tzinfo=UTC)


def test_manual_run_without_interval_uses_run_after() -> None:
    run = SimpleNamespace(run_after=datetime(2026, 11, 29, 17, 42, tzinfo=UTC), run_type="manual")
    assert glue.run_hour({"data_interval_end": None, "dag_run": run}) == datetime(
        2026, 11, 29, 17, tzinfo=UTC
    )
    assert not glue.is_asset_triggered({"dag_run": run})
    assert glue.is_asset_triggered({"dag_run": SimpleNamespace(run_type="asset_triggered")})


def test_report_outcomes() -> None:
    from airflow.sdk.exceptions import AirflowSkipException

    ok = JobReport("process", counts={"plays_loaded": 3})
    assert glue.report_outcome(ok)["counts"] == {"plays_loaded": 3}
    partial = JobReport(
        "process", status="partial", message="1 object quarantined", problems=["bad.json: cut"]
    )
    assert glue.report_outcome(partial)["status"] == "partial"
    below = JobReport("enrich", status="skipped", message="3 ids missing, below the threshold of 50")
    assert glue.report_outcome(below)["status"] == "skipped"
    until = datetime(2026, 11, 30, 12, tzinfo=UTC)
    paused = JobReport(
        "download_recently_played",
        status="paused",
        message="Spotify asked to wait 86400 s",
        paused_until=until,
    )
    with pytest.raises(
        AirflowSkipException,
        match=r"download_recently_played skipped: Spotify asked to wait 86400 s; paused until 2026-11-30T12:00",
    ):
        glue.report_outcome(paused)
    with pytest.raises(glue.JobFailed, match="download_recently_played failed: boom"):
        glue.report_outcome(JobReport("download_recently_played", status="failed", message="boom"))


@pytest.fixture()
def task_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, Any]:
    """run_job with Airflow's context and one job replaced: what a task body sees, minus the scheduler."""
    conns = {
        "spotify_default": spotify_conn(token_file=str(tmp_path / "tokens.json")),
        "spotify_warehouse": FakeConnection(conn_type="sqlite", host=str(tmp_path / "wh.db")),
    }
    seen: dict[str, Any] = {}
    monkeypatch.setattr(connections, "airflow_connection", conns.get)
    context = {
        "data_interval_end": datetime(2026, 11, 29, 12, 10, tzinfo=UTC),
        "dag_run": SimpleNamespace(
            run_type="scheduled", run_after=datetime(2026, 11, 29, 12, 10, tzinfo=UTC)
        ),
    }
    monkeypatch.setattr("airflow.sdk.get_current_context", lambda: context)
    return seen


def test_run_job_passes_the_interval_hour(task_env: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    from spotify_pipeline import jobs

    def fake_fetch(settings: Any, *, hour: datetime | None = None, **_: Any) -> JobReport:
        task_env["hour"] = hour
        task_env["user"] = settings.user
        return JobReport("download_recently_played", counts={"plays_fetched": 50})

    monkeypatch.setattr(jobs, "download_recently_played", fake_fetch)
    out = glue.run_job("download_recently_played")
    assert out["counts"] == {"plays_fetched": 50}
    assert task_env == {"hour": datetime(2026, 11, 29, 12, tzinfo=UTC), "user": "alice"}


def test_daily_enrich_forces_and_landing_triggered_enrich_waits_for_the_threshold(
    task_env: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from spotify_pipeline import jobs

    def fake_enrich(settings: Any, *, force: bool = True, **_: Any) -> JobReport:
        task_env.setdefault("force", []).append(force)
        return JobReport("enrich")

    monkeypatch.setattr(jobs, "enrich", fake_enrich)
    glue.run_job("enrich")
    ctx = {"dag_run": SimpleNamespace(run_type="asset_triggered", run_after=None)}
    monkeypatch.setattr("airflow.sdk.get_current_context", lambda: ctx)
    glue.run_job("enrich")
    assert task_env["force"] == [True, False]


def test_invalid_grant_fails_without_retry_and_says_log_in_again(
    task_env: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from spotify_pipeline import jobs

    def revoked(settings: Any, **_: Any) -> JobReport:
        raise LoginRequired("Spotify refused the refresh token (Refresh token revoked)")

    monkeypatch.setattr(jobs, "download_recently_played", revoked)
    with pytest.raises(AirflowFailException) as info:
        glue.run_job("download_recently_played")
    message = str(info.value)
    assert "log in again" in message and "spotify-pipeline auth login" in message
    assert str(tmp_path / "tokens.json") in message and "Not retried" in message


def test_no_stored_login_and_rejected_app_credentials_fail_without_retry(
    task_env: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from spotify_pipeline import jobs

    def never_logged_in(settings: Any, **_: Any) -> JobReport:
        raise LoginRequired("no Spotify login is stored")

    monkeypatch.setattr(jobs, "download_followed_artists", never_logged_in)
    with pytest.raises(
        AirflowFailException, match="no Spotify login is stored for user 'alice': log in again"
    ):
        glue.run_job("download_followed_artists")

    def bad_secret(settings: Any, **_: Any) -> JobReport:
        raise AuthError("Spotify rejected the app credentials (invalid_client)")

    monkeypatch.setattr(jobs, "download_followed_artists", bad_secret)
    with pytest.raises(AirflowFailException, match="invalid_client.*not retried"):
        glue.run_job("download_followed_artists")


def test_other_failures_propagate_for_airflow_to_retry(
    task_env: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import httpx

    from spotify_pipeline import jobs

    def network_down(settings: Any, **_: Any) -> JobReport:
        raise httpx.ConnectError("connection refused")

    monkeypatch.setattr(jobs, "process", network_down)
    with pytest.raises(httpx.ConnectError):
        glue.run_job("process")


def test_a_pause_raised_by_a_job_skips(task_env: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.sdk.exceptions import AirflowSkipException

    from spotify_pipeline import jobs

    until = datetime.now(UTC) + timedelta(hours=20)

    def paused(settings: Any, **_: Any) -> JobReport:
        raise RateLimitPaused(until, "Spotify answered 429 with Retry-After 72000 s")

    monkeypatch.setattr(jobs, "download_followed_artists", paused)
    with pytest.raises(AirflowSkipException, match="Retry-After 72000 s; paused until"):
        glue.run_job("download_followed_artists")


def test_missing_connection_fails_without_retry(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    monkeypatch.setattr(connections, "airflow_connection", {}.get)
    monkeypatch.setattr("airflow.sdk.get_current_context", lambda: {})
    with pytest.raises(AirflowFailException, match="'spotify_default' is not defined.*not retried"):
        glue.run_job("process")


def test_the_plan_of_listeners_is_pure_and_partitions_with_more_than_one() -> None:
    from spotify_pipeline.orchestration.mapping import plan_listeners

    one = plan_listeners(["me"], user="me", user_partition=False, conn_id="c", loads=True)
    assert one == [{"user": "me", "partition": False, "conn_id": "c", "process_partition": None}]
    two = plan_listeners(["ann", "bob"], user="me", user_partition=False, conn_id="c", loads=True)
    assert [e["process_partition"] for e in two] == ["users/ann/", "users/bob/", ""]
    assert two[-1]["user"] == "me"  # the root objects belong to the connection's user
    assert plan_listeners(["ann", "bob"], user="me", user_partition=False, conn_id="c") == [
        {"user": "ann", "partition": True, "conn_id": "c"},
        {"user": "bob", "partition": True, "conn_id": "c"},
    ]


def test_retry_delay_comes_from_the_configuration_and_a_bad_one_names_the_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from spotify_pipeline.orchestration.airflow_dags import default_args, retry_delay

    monkeypatch.delenv("AIRFLOW__SPOTIFY_PIPELINE__RETRY_DELAY_SECONDS", raising=False)
    assert default_args()["retry_delay"] == timedelta(minutes=2)
    monkeypatch.setenv("AIRFLOW__SPOTIFY_PIPELINE__RETRY_DELAY_SECONDS", "2")
    assert retry_delay() == timedelta(seconds=2)
    monkeypatch.setenv("AIRFLOW__SPOTIFY_PIPELINE__RETRY_DELAY_SECONDS", "soon")
    with pytest.raises(ValueError, match="AIRFLOW__SPOTIFY_PIPELINE__RETRY_DELAY_SECONDS.*'soon'"):
        retry_delay()


def test_the_listeners_and_migration_tasks_mask_their_secrets_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression: only ``run_job`` registered the run's secrets, so whatever the ``listeners`` and
    ``migrate_warehouse`` tasks logged (they read the same connections, and a failed attempt under
    load logs its error before the retry) reached Airflow's handlers unmasked."""
    import logging
    import uuid

    from spotify_pipeline.orchestration.airflow_tasks import listener_plan, migrate_warehouse

    secret = f"app-secret-{uuid.uuid4().hex}"  # never registered by another test of this process
    conn = spotify_conn(token_file=str(tmp_path / "tokens.json"))
    conn.password = secret
    conns = {
        "spotify_default": conn,
        "spotify_warehouse": FakeConnection(conn_type="sqlite", host=str(tmp_path / "wh.db")),
    }
    monkeypatch.setattr(connections, "airflow_connection", conns.get)
    monkeypatch.chdir(tmp_path)
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record))

    handler = Keep()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        assert migrate_warehouse()["revision"]
        assert listener_plan() == [{"user": "alice", "partition": False, "conn_id": "spotify_default"}]
        logging.getLogger("sp-test-listeners").warning("the app secret is %s", secret)
    finally:
        root.removeHandler(handler)
    assert records and secret not in records[-1] and "***" in records[-1]
