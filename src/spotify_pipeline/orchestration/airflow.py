"""Airflow glue: the only module of the package that knows Airflow.

Two halves, both small:

* **parse time** (called at the top of the DAG files, on every parse by the DAG processor):
  schedules, the raw-zone Asset, default task arguments. These read Airflow's own configuration
  (``airflow.cfg`` section ``[spotify_pipeline]`` or ``AIRFLOW__SPOTIFY_PIPELINE__*`` env vars),
  which is already in memory: no metadata-database or API call, no import of the package's heavy
  modules (httpx, SQLAlchemy, boto3 come in with the jobs, at run time only).
* **run time** (called from inside a task body): build a :class:`Settings` from Airflow
  connections, take the hour from the run's data interval, call one job, and turn its report into
  what Airflow understands (XCom summary, skip, fail without retry, fail with retry).

Every Airflow import is lazy, inside a function, so the package imports without Airflow installed.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from airflow.sdk import Asset
    from airflow.sdk.bases.timetable import BaseTimetable

    from spotify_pipeline.jobs import JobReport
    from spotify_pipeline.settings import Settings

log = logging.getLogger(__name__)

SPOTIFY_CONN_ID = "spotify_default"
WAREHOUSE_CONN_ID = "spotify_warehouse"
AWS_CONN_ID = "aws_default"
CONFIG_SECTION = "spotify_pipeline"
RAW_ZONE_ASSET_NAME = "spotify_raw_zone"

#: Fixed, in the past, on an interval boundary of every default schedule. Never derived from now():
#: a moving start_date makes the scheduler's first interval unpredictable.
START_DATE = datetime(2026, 1, 1, tzinfo=UTC)

#: ``[spotify_pipeline]`` option -> default cron, as the original DAGs ran.
DEFAULT_SCHEDULES: dict[str, str] = {
    "bihourly_download_schedule": "10 */2 * * *",
    "daily_download_schedule": "0 0 * * *",
    "data_pipeline_schedule": "0 6 * * *",
    # Opt-in (paused on creation): releases within the budget, then the playlists the user opted in to.
    "weekly_recommendations_schedule": "0 7 * * 1",
}

JobName = Literal[
    "download_recently_played",
    "download_followed_artists",
    "process",
    "enrich",
    "check_releases",
    "refresh_playlists",
]


# --------------------------------------------------------------------------------------------
# parse time
# --------------------------------------------------------------------------------------------


def _option(name: str, default: str) -> str:
    from airflow.sdk import conf

    value = conf.get(CONFIG_SECTION, name, fallback=default)
    return str(value).strip() if value is not None else default


def _option_env_name(name: str) -> str:
    return f"AIRFLOW__{CONFIG_SECTION.upper()}__{name.upper()}"


def cron_setting(name: str) -> str:
    """The cron expression of one schedule option (``[spotify_pipeline] <name>``), default as original."""
    if name not in DEFAULT_SCHEDULES:
        raise KeyError(f"unknown schedule option {name!r}; known: {', '.join(DEFAULT_SCHEDULES)}")
    return _option(name, DEFAULT_SCHEDULES[name]) or DEFAULT_SCHEDULES[name]


def _validated(timetable: BaseTimetable, name: str, cron: str) -> BaseTimetable:
    from airflow.sdk.exceptions import AirflowTimetableInvalid

    try:
        timetable.validate()
    except AirflowTimetableInvalid as exc:
        raise ValueError(
            f"[{CONFIG_SECTION}] {name} (env {_option_env_name(name)}) = {cron!r} is not a valid "
            f"cron expression ({exc}); fix it or unset it to get {DEFAULT_SCHEDULES[name]!r}"
        ) from None
    return timetable


def interval_timetable(name: str) -> BaseTimetable:
    """A data-interval timetable for a download DAG.

    Airflow 3 turns a bare cron string into a point-in-time trigger whose data interval is empty;
    the downloads name their raw object after the interval's end hour, so they ask for intervals.
    """
    from airflow.sdk import CronDataIntervalTimetable

    cron = cron_setting(name)
    return _validated(CronDataIntervalTimetable(cron, timezone="UTC"), name, cron)


def process_on_landing() -> bool:
    """``[spotify_pipeline] process_on_landing``: also run the data pipeline when raw objects land."""
    raw = _option("process_on_landing", "false").lower()
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("", "0", "false", "no", "off"):
        return False
    raise ValueError(
        f"[{CONFIG_SECTION}] process_on_landing (env {_option_env_name('process_on_landing')}) "
        f"= {raw!r}: use true or false"
    )


def raw_zone_asset() -> Asset:
    """The Asset the download tasks update and the data pipeline may be scheduled on.

    A logical name, not the bucket URI: the bucket lives in a connection, which parse time must not
    read, and the name stays stable when the bucket changes.
    """
    from airflow.sdk import Asset

    return Asset(name=RAW_ZONE_ASSET_NAME)


def data_pipeline_schedule() -> BaseTimetable:
    """Daily at 06:00 UTC; with ``process_on_landing`` also whenever a download lands raw objects."""
    from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable

    name = "data_pipeline_schedule"
    cron = cron_setting(name)
    # The pipeline loads by manifest, not by interval: a point-in-time trigger is all it needs.
    timetable = _validated(CronTriggerTimetable(cron, timezone="UTC"), name, cron)
    if process_on_landing():
        return AssetOrTimeSchedule(timetable=timetable, assets=[raw_zone_asset()])
    return timetable


def retry_delay() -> timedelta:
    """``[spotify_pipeline] retry_delay_seconds`` (default 120): the first retry's delay."""
    name = "retry_delay_seconds"
    raw = _option(name, "120") or "120"
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if seconds <= 0:
        raise ValueError(
            f"[{CONFIG_SECTION}] {name} (env {_option_env_name(name)}) = {raw!r}: use a positive "
            "number of seconds, or unset it for 120"
        )
    return timedelta(seconds=seconds)


def default_args() -> dict[str, Any]:
    """Retries with exponential backoff (2, 4, 8 min, capped at 30): Spotify 5xx and network blips
    pass; errors a retry cannot fix (login, configuration) fail at once via AirflowFailException.
    A task whose worker died (no heartbeat) is failed by the scheduler and retried the same way."""
    return {
        "owner": "spotify-pipeline",
        "retries": 3,
        "retry_delay": retry_delay(),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(minutes=30),
        "execution_timeout": timedelta(minutes=30),
    }


# --------------------------------------------------------------------------------------------
# run time: settings from connections
# --------------------------------------------------------------------------------------------


class ConnectionLike(Protocol):
    """The part of an Airflow ``Connection`` this module reads."""

    conn_type: str | None
    host: str | None
    login: str | None
    password: str | None
    schema: str | None
    port: int | None

    @property
    def extra_dejson(self) -> dict[str, Any]: ...


ConnectionGetter = Callable[[str], "ConnectionLike | None"]


def airflow_connection(conn_id: str) -> ConnectionLike | None:
    """The connection from Airflow's secrets backends (env ``AIRFLOW_CONN_*`` first), None if undefined."""
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        conn: ConnectionLike = Connection.get(conn_id)
    except AirflowNotFoundException:
        return None
    return conn


@dataclass(frozen=True, repr=False)
class AwsCredentials:
    """Static keys from the S3 connection. ``repr`` is masked: it must never reach a log."""

    access_key_id: str
    secret_access_key: str
    session_token: str | None = None

    def __repr__(self) -> str:
        return "AwsCredentials(access_key_id=***, secret_access_key=***)"


@dataclass(frozen=True)
class RunConfig:
    """What a task needs: the settings, plus S3 keys the settings have no field for."""

    settings: Settings
    aws_credentials: AwsCredentials | None


def _config_error(message: str) -> Exception:
    from spotify_pipeline.errors import ConfigError

    return ConfigError(message)


def _airflow_home() -> Path:
    # The same lookup the Task SDK uses to expand {AIRFLOW_HOME} in its own config.
    return Path(os.environ.get("AIRFLOW_HOME") or "~/airflow").expanduser()


def _truthy(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def warehouse_url_from_connection(conn: ConnectionLike, conn_id: str = WAREHOUSE_CONN_ID) -> str:
    """A SQLAlchemy URL from the warehouse connection.

    ``extra.sqlalchemy_url`` wins when present (any URL the warehouse supports); otherwise a
    ``mysql``/``mariadb`` connection becomes ``mysql+pymysql://`` with utf8mb4, and a ``sqlite``
    connection's host is the database file, as Airflow's own SQLite connections do it.
    """
    from sqlalchemy.engine import URL

    extra = conn.extra_dejson
    if extra.get("sqlalchemy_url"):
        return str(extra["sqlalchemy_url"])
    kind = (conn.conn_type or "").lower()
    if kind in ("mysql", "mariadb"):
        if not conn.host or not conn.schema:
            raise _config_error(
                f"Airflow connection {conn_id!r} ({kind}) needs a host and a schema (the database name)"
            )
        query = {"charset": str(extra.get("charset", "utf8mb4"))}
        url = URL.create(
            "mysql+pymysql",
            username=conn.login or None,
            password=conn.password or None,
            host=conn.host,
            port=conn.port or None,
            database=conn.schema,
            query=query,
        )
        return url.render_as_string(hide_password=False)
    if kind in ("postgres", "postgresql"):
        if not conn.host or not conn.schema:
            raise _config_error(
                f"Airflow connection {conn_id!r} (postgres) needs a host and a schema (the database)"
            )
        return URL.create(
            "postgresql+psycopg",
            username=conn.login or None,
            password=conn.password or None,
            host=conn.host,
            port=conn.port or None,
            database=conn.schema,
        ).render_as_string(hide_password=False)
    if kind == "sqlite":
        path = conn.host or conn.schema
        if not path:
            raise _config_error(f"Airflow connection {conn_id!r} (sqlite) needs the database file as host")
        return f"sqlite:///{path}"
    raise _config_error(
        f"Airflow connection {conn_id!r} has type {conn.conn_type!r}: use mysql (MariaDB/MySQL), "
        "postgres, sqlite, or put a SQLAlchemy URL in its extra 'sqlalchemy_url'"
    )


def build_run_config(
    get_connection: ConnectionGetter | None = None,
    *,
    conn_id: str = SPOTIFY_CONN_ID,
    user: str | None = None,
    partition: bool = False,
) -> RunConfig:
    """Settings from the ``spotify_default``, warehouse and S3 connections.

    ``spotify_default``: login = client id, password = client secret (empty for PKCE apps); extras
    ``redirect_uri``, ``accounts_url``, ``api_url``, ``user``, ``user_partition``, ``token_file``,
    ``raw_zone``, ``aws_conn_id``, ``warehouse_conn_id``. Settings the connections do not name come
    from ``SPOTIFY_PIPELINE_*`` env vars or the defaults, as everywhere else.
    """
    from spotify_pipeline.settings import load_settings

    if get_connection is None:
        get_connection = airflow_connection
    spotify = get_connection(conn_id)
    if spotify is None:
        raise _config_error(
            f"Airflow connection {conn_id!r} is not defined: add it (login = Spotify client id, "
            "password = client secret or empty for PKCE, extra redirect_uri) as described in docs/airflow.md"
        )
    extra = spotify.extra_dejson
    home = _airflow_home() / "spotify-pipeline"
    overrides: dict[str, Any] = {
        "client_id": spotify.login or None,
        "client_secret": spotify.password or None,
        # A token store every worker can write; not the CWD-relative default of the CLI.
        "token_file": Path(extra.get("token_file") or home / "tokens.json"),
        "raw_zone": str(extra.get("raw_zone") or home / "raw"),
    }
    for key in ("redirect_uri", "accounts_url", "api_url", "user"):
        if extra.get(key):
            overrides[key] = str(extra[key])
    if "user_partition" in extra:
        overrides["user_partition"] = _truthy(extra["user_partition"])
    # Tasks never migrate: `spotify-pipeline db upgrade` or the data pipeline's setup task does.
    overrides["auto_migrate"] = False

    warehouse_id = str(extra.get("warehouse_conn_id") or WAREHOUSE_CONN_ID)
    warehouse = get_connection(warehouse_id)
    if warehouse is None:
        raise _config_error(
            f"Airflow connection {warehouse_id!r} is not defined: add the warehouse as a mysql connection "
            "or with extra 'sqlalchemy_url' (see docs/airflow.md)"
        )
    overrides["warehouse_url"] = warehouse_url_from_connection(warehouse, warehouse_id)
    _token_store(extra, overrides)

    credentials: AwsCredentials | None = None
    if str(overrides["raw_zone"]).startswith("s3://"):
        aws_id = str(extra.get("aws_conn_id") or AWS_CONN_ID)
        aws = get_connection(aws_id)
        if aws is None:
            # No connection: boto3's default chain (instance profile, IRSA, env) is the norm on AWS.
            log.info("no Airflow connection %r: S3 uses boto3's default credentials", aws_id)
        else:
            aws_extra = aws.extra_dejson
            if aws_extra.get("endpoint_url"):
                overrides["s3_endpoint_url"] = str(aws_extra["endpoint_url"])
            region = aws_extra.get("region_name") or aws_extra.get("region")
            if region:
                overrides["s3_region"] = str(region)
            if aws.login and aws.password:
                credentials = AwsCredentials(aws.login, aws.password, aws_extra.get("aws_session_token"))
    settings = load_settings(**overrides)
    if user is not None:
        from spotify_pipeline.jobs.users import for_user

        settings = for_user(settings, user, partition=partition)
    return RunConfig(settings, credentials)


def _token_store_name(settings: Settings) -> str:
    if settings.token_store_url is not None:
        return "the shared token store, table spotify_token_state"
    return str(settings.token_file)


def _token_store(extra: Mapping[str, Any], overrides: dict[str, Any]) -> None:
    """extra ``token_store``: ``"warehouse"`` keeps the tokens in the warehouse's database (encrypted
    rows, compare-and-set), any other value is that database's URL; the key is ``token_key`` of the
    workers' environment (SPOTIFY_PIPELINE_TOKEN_KEY), else Airflow's own ``[core] fernet_key``: kept
    apart from the database either way."""
    where = str(extra.get("token_store") or "").strip()
    if not where:
        return
    overrides["token_store_url"] = overrides["warehouse_url"] if where == "warehouse" else where
    if not os.environ.get("SPOTIFY_PIPELINE_TOKEN_KEY"):
        from airflow.sdk import conf

        key = conf.get("core", "fernet_key", fallback="")
        if key:
            overrides["token_key"] = key


def mask_run_secrets(config: RunConfig, logger: logging.Logger | None = None) -> None:
    """Mask this run's secrets in every log record the task's handlers receive.

    Airflow masks the connection passwords it hands out in its own log events, but not what the job
    logs through the standard library: botocore's DEBUG line of a signed S3 request names the AWS key
    id (``Credential=AKIA…``) and carries the signature, and the access and refresh tokens the job
    reads or mints are unknown to Airflow. The CLI installs the project's filter in ``setup_logging``;
    a task has to do it itself, on the handlers Airflow configured (``logger``: default the root).
    """
    from spotify_pipeline.redact import install, register_secrets

    register_secrets(config.settings.secret_values())
    credentials = config.aws_credentials
    if credentials is not None:
        register_secrets(
            [credentials.access_key_id, credentials.secret_access_key, credentials.session_token]
        )
    install(logger)


@contextmanager
def aws_environment(credentials: AwsCredentials | None) -> Iterator[None]:
    """Expose the S3 connection's keys to boto3 for the duration of one job, then restore.

    The environment is boto3's documented first credential source and Settings holds no AWS
    keys; each Airflow task runs in its own process, so nothing leaks to another task.
    """
    if credentials is None:
        yield
        return
    wanted = {
        "AWS_ACCESS_KEY_ID": credentials.access_key_id,
        "AWS_SECRET_ACCESS_KEY": credentials.secret_access_key,
        "AWS_SESSION_TOKEN": credentials.session_token,
    }
    saved = {name: os.environ.get(name) for name in wanted}
    try:
        for name, value in wanted.items():
            if value:
                os.environ[name] = value
            else:
                os.environ.pop(name, None)
        yield
    finally:
        for name, old in saved.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old


# --------------------------------------------------------------------------------------------
# run time: the run's hour, the job, the outcome
# --------------------------------------------------------------------------------------------


def _as_utc(value: Any) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise TypeError(f"expected a datetime from the Airflow context, got {type(value).__name__}")
    # pendulum DateTime is a datetime subclass; hand the jobs a plain stdlib UTC datetime.
    return datetime.fromtimestamp(value.timestamp(), tz=UTC)


def run_hour(context: Mapping[str, Any]) -> datetime:
    """The UTC hour a download's raw object is named after: the end of the run's data interval.

    Interval ``[10:10, 12:10)`` lands in ``YYYYMMDD12.json``: the hour the scheduled run starts in,
    which is where the original DAGs (named after the run time) put it. Re-running that interval,
    today or in a month, lands in the same object, which merges. A manual run without a logical
    date has no interval and uses the hour it was triggered for (``run_after``).
    """
    end = _as_utc(context.get("data_interval_end"))
    if end is None:
        dag_run = context.get("dag_run")
        end = _as_utc(getattr(dag_run, "run_after", None)) or _as_utc(context.get("logical_date"))
    if end is None:
        raise _config_error("this Airflow run has neither a data interval nor a run_after time")
    return end.replace(minute=0, second=0, microsecond=0)


def backfill_interval(context: Mapping[str, Any]) -> tuple[datetime, datetime] | None:
    """A backfill run's data interval: the data pipeline loads that interval's objects again."""
    run_type = getattr(context.get("dag_run"), "run_type", None)
    if str(getattr(run_type, "value", run_type)) != "backfill":
        return None
    start, end = _as_utc(context.get("data_interval_start")), _as_utc(context.get("data_interval_end"))
    return (start, end) if start is not None and end is not None and start < end else None


def is_asset_triggered(context: Mapping[str, Any]) -> bool:
    run_type = getattr(context.get("dag_run"), "run_type", None)
    return str(getattr(run_type, "value", run_type)) == "asset_triggered"


class JobFailed(RuntimeError):
    """A job reported ``failed``: Airflow retries the task with backoff."""


def _call(
    job: JobName, settings: Settings, context: Mapping[str, Any], partition: str | None = None
) -> JobReport:
    from spotify_pipeline import jobs

    if job == "download_recently_played":
        return jobs.download_recently_played(settings, hour=run_hour(context))
    if job == "download_followed_artists":
        return jobs.download_followed_artists(settings, hour=run_hour(context))
    if job == "process":
        return jobs.process(settings, partition=partition, reload_between=backfill_interval(context))
    if job == "enrich":
        # The daily run enriches whatever is missing; runs triggered by each landing wait for the
        # threshold, so a play every two hours does not cost an enrichment pass every two hours.
        return jobs.enrich(settings, force=not is_asset_triggered(context))
    if job == "check_releases":
        from spotify_pipeline.jobs.releases import check_releases

        return check_releases(settings, hour=run_hour(context))
    if job == "refresh_playlists":
        return refresh_playlists(settings)
    raise ValueError(f"unknown job {job!r}")


def refresh_playlists(settings: Settings) -> JobReport:
    """Rewrite the playlists the user opted in to (``recommend --to-playlist NAME --apply``) with
    this week's lists; nothing when no playlist was ever written."""
    from spotify_pipeline.insights.recommend import lists_for
    from spotify_pipeline.jobs.recommend import remembered_playlists, write_playlists
    from spotify_pipeline.jobs.report import JobReport as Report
    from spotify_pipeline.jobs.runtime import Runtime

    rt = Runtime(settings)
    opted = remembered_playlists(settings, runtime=rt)
    if not opted:
        report = Report("refresh_playlists", status="skipped")
        report.message = (
            "no playlist opted in: run `spotify-pipeline recommend --to-playlist NAME --apply` once"
        )
        return report
    now = datetime.now(UTC)
    report = Report("refresh_playlists")
    for kind, name in sorted(opted.items()):
        lists = lists_for(rt.engine, settings.user, now=now, kind=kind)
        done, _plans = write_playlists(settings, lists, name, apply=True, runtime=rt)
        for key, n in done.counts.items():
            report.add(key, n)
    report.message = f"refreshed {len(opted)} playlists"
    return report


def report_outcome(report: JobReport) -> dict[str, Any]:
    """ok, partial and skipped reports become the task's small XCom; paused skips the task (reason in
    the log); failed raises so Airflow retries with backoff."""
    from airflow.sdk.exceptions import AirflowSkipException

    summary: dict[str, Any] = report.to_dict()
    if report.status == "paused":
        reason = report.message or "Spotify asked to wait"
        if report.paused_until and "until" not in reason:
            reason += f"; paused until {report.paused_until.isoformat()}"
        raise AirflowSkipException(f"{report.job} skipped: {reason}")
    if report.status == "failed":
        raise JobFailed(f"{report.job} failed: {report.message}")
    if report.status == "partial":
        # e.g. a malformed object was quarantined: the rest loaded, the report names the object.
        log.warning("%s finished with problems: %s", report.job, report.message)
        for problem in report.problems:
            log.warning("%s: %s", report.job, problem)
    elif report.status == "skipped":
        # Nothing worth doing this time (enrich below its threshold): a success, not an Airflow skip.
        log.info("%s had nothing to do: %s", report.job, report.message)
    log.info("%s %s: %s", report.job, report.status, json.dumps(report.counts, sort_keys=True))
    return summary


def run_job(
    job: JobName,
    *,
    conn_id: str = SPOTIFY_CONN_ID,
    user: str | None = None,
    partition: bool = False,
    process_partition: str | None = None,
) -> dict[str, Any]:
    """The one call of a task body: settings from connections, one job, Airflow's outcome.

    Faults as a user needs them: ``invalid_grant`` and bad configuration fail at once without
    retries (a retry cannot fix them); a long 429 pause skips the task with the reason; anything
    else propagates and is retried with backoff.
    """
    from airflow.sdk import get_current_context
    from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

    from spotify_pipeline.errors import AuthError, ConfigError, LoginRequired, RateLimitPaused
    from spotify_pipeline.settings import mask_url

    context = get_current_context()
    try:
        config = build_run_config(conn_id=conn_id, user=user, partition=partition)
    except ConfigError as exc:
        raise AirflowFailException(
            f"{exc} (not retried: fix the configuration, then clear the task)"
        ) from exc
    mask_run_secrets(config)
    settings = config.settings
    log.info(
        "%s for user %r: raw zone %s, warehouse %s",
        job,
        settings.user,
        settings.raw_zone,
        mask_url(settings.warehouse_url.get_secret_value()),
    )
    try:
        with aws_environment(config.aws_credentials):
            report = _call(job, settings, context, process_partition)
    except LoginRequired as exc:
        raise AirflowFailException(
            f"{exc.reason} for user {settings.user!r}: log in again with "
            f"`spotify-pipeline auth login --user {settings.user}`, writing the token store the Airflow "
            f"workers read ({_token_store_name(settings)}). "
            "Not retried: no retry can fix this."
        ) from exc
    except AuthError as exc:
        # Rejected app credentials, a token answer without a refresh token: as final as a login.
        raise AirflowFailException(f"{exc} (not retried: no retry can fix this)") from exc
    except RateLimitPaused as exc:
        raise AirflowSkipException(f"{job} skipped: {exc}") from exc
    except ConfigError as exc:
        raise AirflowFailException(
            f"{exc} (not retried: fix the configuration, then clear the task)"
        ) from exc
    return report_outcome(report)
