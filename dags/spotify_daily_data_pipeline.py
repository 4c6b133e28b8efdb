"""spotify_daily_data_pipeline: load every landed raw object not loaded yet, then enrich metadata.

Wiring only: the work happens in ``spotify_pipeline.jobs.process`` and ``.enrich``.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import dag, task

from spotify_pipeline.orchestration.airflow import START_DATE, data_pipeline_schedule, default_args

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
)
def spotify_daily_data_pipeline() -> None:
    @task
    def process_landed() -> dict[str, object]:
        from spotify_pipeline.orchestration.airflow import run_job

        return run_job("process")

    # A first enrichment after a history import can mean thousands of single-id lookups.
    @task(execution_timeout=timedelta(hours=2))
    def enrich_metadata() -> dict[str, object]:
        from spotify_pipeline.orchestration.airflow import run_job

        return run_job("enrich")

    process_landed() >> enrich_metadata()


spotify_daily_data_pipeline()
