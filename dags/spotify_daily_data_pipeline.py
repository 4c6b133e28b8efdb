"""spotify_daily_data_pipeline: load every landed raw object not loaded yet, then enrich metadata.

Wiring only: the work happens in ``spotify_pipeline.jobs.process`` and ``.enrich``.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import dag, task

from spotify_pipeline.orchestration.airflow_dags import (
    SPOTIFY_CONN_ID,
    START_DATE,
    data_pipeline_schedule,
    default_args,
    spotify_pool,
)

DOC = """
### Spotify: load and enrich, daily at 06:00 UTC

1. **process**: loads every raw object that is not in the manifest yet (`landed_files`), whatever
   day it landed: a failed or missed day is caught up by the next run. Plays are keyed by
   (user, played_at): loading twice changes no counts. A malformed object is quarantined and
   reported; the rest loads (the task ends `partial` in its XCom, not failed).
2. **enrich**: fetches missing artists and albums one id at a time, each id at most once.

Schedule `0 6 * * *` (UTC); override with `[spotify_pipeline] data_pipeline_schedule`. With
`[spotify_pipeline] process_on_landing = true` it also runs whenever a download lands raw objects
(Asset `spotify_raw_zone`), so a play is queryable minutes after the fetch; those runs enrich only
once enough ids are missing, the 06:00 run enriches everything missing.
"""


@dag(
    dag_id="spotify_daily_data_pipeline",
    schedule=data_pipeline_schedule(),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    tags=["spotify", "warehouse"],
    doc_md=DOC,
    params={"spotify_conn_id": SPOTIFY_CONN_ID},
)
def spotify_daily_data_pipeline() -> None:
    @task(multiple_outputs=False)
    def migrate_warehouse(conn_id: str) -> dict[str, object]:
        from spotify_pipeline.orchestration.airflow_tasks import migrate_warehouse as migrate

        return migrate(conn_id)

    @task(multiple_outputs=False)
    def listeners(conn_id: str) -> list[dict[str, object]]:
        from spotify_pipeline.orchestration.airflow_tasks import listener_plan

        return listener_plan(conn_id, loads=True)

    # One mapped instance per raw-zone partition (per listener); a backfill reloads its interval.
    @task(multiple_outputs=False)
    def process_landed(
        user: str, partition: bool, conn_id: str, process_partition: str | None
    ) -> dict[str, object]:
        from spotify_pipeline.orchestration.airflow_tasks import run_job

        return run_job(
            "process", conn_id=conn_id, user=user, partition=partition, process_partition=process_partition
        )

    # A first enrichment after a history import can mean thousands of single-id lookups.
    @task(execution_timeout=timedelta(hours=2), pool=spotify_pool(), multiple_outputs=False)
    def enrich_metadata(plan: list[dict[str, object]], conn_id: str) -> dict[str, object]:
        from spotify_pipeline.orchestration.airflow_tasks import enrich_with_first_listener

        return enrich_with_first_listener(plan, conn_id)

    conn_id = "{{ params.spotify_conn_id }}"
    plan = listeners(conn_id)
    migrate_warehouse(conn_id).as_setup() >> plan
    process_landed.expand_kwargs(plan) >> enrich_metadata(plan, conn_id)


spotify_daily_data_pipeline()
