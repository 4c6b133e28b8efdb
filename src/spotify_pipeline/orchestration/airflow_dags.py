"""Airflow at parse time: what the DAG files call at their top, on every parse by the DAG processor.

Schedules, the raw-zone Asset, default task arguments, the Spotify pool and the run types a
download DAG accepts. These read Airflow's own configuration (``airflow.cfg`` section
``[spotify_pipeline]`` or ``AIRFLOW__SPOTIFY_PIPELINE__*`` env vars), which is already in memory: no
metadata-database or API call, no import of the package's heavy modules (httpx, SQLAlchemy, boto3
come in with the jobs, at run time only). Every Airflow import is lazy, inside a function, so the
package imports without Airflow installed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.sdk import Asset
    from airflow.sdk.bases.timetable import BaseTimetable

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

DEFAULT_POOL = "spotify_api"
#: Download DAGs: scheduled and manual runs only (no backfill).
DOWNLOAD_RUN_TYPES = ("scheduled", "manual")


# --------------------------------------------------------------------------------------------
# [spotify_pipeline] options
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


# --------------------------------------------------------------------------------------------
# schedules and the raw-zone Asset
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# task defaults, the pool, the run types
# --------------------------------------------------------------------------------------------


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


def spotify_pool() -> str:
    """``[spotify_pipeline] spotify_pool``: the Airflow pool bounding concurrent Spotify calls of one
    app (create it once: ``airflow pools set spotify_api 2 'Spotify app rate limit'``)."""
    return _option("spotify_pool", DEFAULT_POOL) or DEFAULT_POOL


def download_dag_kwargs() -> dict[str, Any]:
    """``allowed_run_types`` where this Airflow has it (3.2+): the scheduler and the API refuse a
    backfill of a download DAG instead of running it."""
    from airflow.sdk import DAG

    fields = getattr(DAG, "__attrs_attrs__", ())
    if any(getattr(f, "name", "") == "allowed_run_types" for f in fields):
        return {"allowed_run_types": list(DOWNLOAD_RUN_TYPES)}
    return {}
