"""Airflow glue for several listeners: the DAGs map their tasks over the users read at run time.

Parse time: the pool every task calling Spotify runs in (one per Spotify app: its rate limit is the
app's) and the run types a download DAG accepts (no backfills: a fetch cannot reach the past, so a
backfill would only spend calls and label today's plays with old hours). Run time: the listeners
(the registry in the warehouse, or the connection's ``user`` alone) and the migration setup task.
"""

from __future__ import annotations

from typing import Any

from .airflow import CONFIG_SECTION, SPOTIFY_CONN_ID, _option, build_run_config

DEFAULT_POOL = "spotify_api"
#: Download DAGs: scheduled and manual runs only (no backfill).
DOWNLOAD_RUN_TYPES = ("scheduled", "manual")


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


def listener_plan(conn_id: str = SPOTIFY_CONN_ID, *, loads: bool = False) -> list[dict[str, Any]]:
    """One small dict per listener for ``.expand_kwargs``: the user, whether raw keys are partitioned
    (more than one listener), and (``loads``) the raw-zone partition their ``process`` loads, plus,
    when partitioned, one entry for the objects outside every partition (landed before there were
    several listeners; they belong to the connection's ``user``)."""
    from spotify_pipeline.jobs.users import listener_names

    settings = build_run_config(conn_id=conn_id).settings
    names = listener_names(settings)
    partition = len(names) > 1 or settings.user_partition
    plan: list[dict[str, Any]] = [
        {"user": name, "partition": partition, "conn_id": conn_id} for name in names
    ]
    if not loads:
        return plan
    for entry in plan:
        entry["process_partition"] = f"users/{entry['user']}/" if partition else None
    if partition:
        plan.append({"user": settings.user, "partition": True, "conn_id": conn_id, "process_partition": ""})
    return plan


def migrate_warehouse(conn_id: str = SPOTIFY_CONN_ID) -> dict[str, Any]:
    """The deploy step as a setup task: migrate the warehouse to the newest schema (idempotent)."""
    from spotify_pipeline.jobs.runtime import migrated_engine
    from spotify_pipeline.warehouse.engine import DbTimeouts, current_revision

    settings = build_run_config(conn_id=conn_id).settings
    engine = migrated_engine(settings.warehouse_url.get_secret_value(), DbTimeouts.from_settings(settings))
    try:
        return {"revision": current_revision(engine)}
    finally:
        engine.dispose()


def enrich_with_first_listener(plan: list[dict[str, Any]], conn_id: str = SPOTIFY_CONN_ID) -> dict[str, Any]:
    """Catalog lookups need one listener's login; any will do: the first of the run's plan."""
    from .airflow import run_job

    first = plan[0]
    return run_job("enrich", conn_id=conn_id, user=str(first["user"]), partition=bool(first["partition"]))


__all__ = [
    "CONFIG_SECTION",
    "download_dag_kwargs",
    "enrich_with_first_listener",
    "listener_plan",
    "migrate_warehouse",
    "spotify_pool",
]
