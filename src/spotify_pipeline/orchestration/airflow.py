"""Airflow glue: what DAG files import. The ``airflow*`` modules of this package are the only ones
that know Airflow; this one gathers their public names in one place.

* ``airflow_dags`` (**parse time**, at the top of the DAG files, on every parse by the DAG
  processor): schedules, the raw-zone Asset, default task arguments, the pool, the run types.
  They read Airflow's configuration, already in memory: no database or API call, nothing heavy.
* ``airflow_connections`` (**run time**): a task's settings from Airflow connections, its secrets
  masked in its logs, the S3 keys for boto3.
* ``airflow_tasks`` (**run time**): one job per task body and its outcome in Airflow's terms (XCom
  summary, skip, fail without retry, fail with retry); the listeners a run maps over.
* ``mapping`` (no Airflow): the run's hour and backfill interval from its context, the plan of
  listeners.

Every Airflow import is lazy, inside a function, so the package imports without Airflow installed.
"""

from __future__ import annotations

from .airflow_connections import (
    AwsCredentials,
    ConnectionGetter,
    ConnectionLike,
    RunConfig,
    airflow_connection,
    aws_environment,
    build_run_config,
    mask_run_secrets,
    warehouse_url_from_connection,
)
from .airflow_dags import (
    AWS_CONN_ID,
    CONFIG_SECTION,
    DEFAULT_POOL,
    DEFAULT_SCHEDULES,
    DOWNLOAD_RUN_TYPES,
    RAW_ZONE_ASSET_NAME,
    SPOTIFY_CONN_ID,
    START_DATE,
    WAREHOUSE_CONN_ID,
    cron_setting,
    data_pipeline_schedule,
    default_args,
    download_dag_kwargs,
    interval_timetable,
    process_on_landing,
    raw_zone_asset,
    retry_delay,
    spotify_pool,
)
from .airflow_tasks import (
    JobFailed,
    JobName,
    enrich_with_first_listener,
    listener_plan,
    migrate_warehouse,
    refresh_playlists,
    report_outcome,
    run_job,
)
from .mapping import backfill_interval, is_asset_triggered, plan_listeners, run_hour

__all__ = [
    "AWS_CONN_ID",
    "AwsCredentials",
    "CONFIG_SECTION",
    "ConnectionGetter",
    "ConnectionLike",
    "DEFAULT_POOL",
    "DEFAULT_SCHEDULES",
    "DOWNLOAD_RUN_TYPES",
    "JobFailed",
    "JobName",
    "RAW_ZONE_ASSET_NAME",
    "RunConfig",
    "SPOTIFY_CONN_ID",
    "START_DATE",
    "WAREHOUSE_CONN_ID",
    "airflow_connection",
    "aws_environment",
    "backfill_interval",
    "build_run_config",
    "cron_setting",
    "data_pipeline_schedule",
    "default_args",
    "download_dag_kwargs",
    "enrich_with_first_listener",
    "interval_timetable",
    "is_asset_triggered",
    "listener_plan",
    "mask_run_secrets",
    "migrate_warehouse",
    "plan_listeners",
    "process_on_landing",
    "raw_zone_asset",
    "refresh_playlists",
    "report_outcome",
    "retry_delay",
    "run_hour",
    "run_job",
    "spotify_pool",
    "warehouse_url_from_connection",
]
