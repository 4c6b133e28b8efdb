"""Airflow at run time, first half: the settings of one task, from Airflow connections.

``spotify_default`` (the Spotify app and where things live), ``spotify_warehouse`` and
``aws_default`` become a :class:`Settings` plus the S3 keys Settings has no field for; the task's
secrets are then masked in what its log handlers receive, and the S3 keys are exposed to boto3 for
the duration of one job. Airflow is imported inside the functions that read it (deferred: DAG files
import the orchestration package at parse time, which must stay cheap).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .airflow_dags import AWS_CONN_ID, SPOTIFY_CONN_ID, WAREHOUSE_CONN_ID

if TYPE_CHECKING:
    from spotify_pipeline.settings import Settings

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------------
# connections and what they become
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


# --------------------------------------------------------------------------------------------
# the warehouse, the settings, the token store
# --------------------------------------------------------------------------------------------


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

    credentials = _s3_overrides(extra, get_connection, overrides)
    settings = load_settings(**overrides)
    if user is not None:
        from spotify_pipeline.jobs.users import for_user

        settings = for_user(settings, user, partition=partition)
    return RunConfig(settings, credentials)


def _s3_overrides(
    extra: Mapping[str, Any], get_connection: ConnectionGetter, overrides: dict[str, Any]
) -> AwsCredentials | None:
    """With the raw zone on S3: the endpoint and region of the S3 connection into ``overrides``,
    and its static keys, if it has any (none: boto3's default chain, the norm on AWS)."""
    if not str(overrides["raw_zone"]).startswith("s3://"):
        return None
    aws_id = str(extra.get("aws_conn_id") or AWS_CONN_ID)
    aws = get_connection(aws_id)
    if aws is None:
        log.info("no Airflow connection %r: S3 uses boto3's default credentials", aws_id)
        return None
    aws_extra = aws.extra_dejson
    if aws_extra.get("endpoint_url"):
        overrides["s3_endpoint_url"] = str(aws_extra["endpoint_url"])
    region = aws_extra.get("region_name") or aws_extra.get("region")
    if region:
        overrides["s3_region"] = str(region)
    if aws.login and aws.password:
        return AwsCredentials(aws.login, aws.password, aws_extra.get("aws_session_token"))
    return None


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


# --------------------------------------------------------------------------------------------
# while the job runs: masked secrets, S3 keys for boto3
# --------------------------------------------------------------------------------------------


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
