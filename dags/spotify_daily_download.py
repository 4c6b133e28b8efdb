"""spotify_daily_download: refresh the token, fetch every followed artist, land them in the raw zone.

Wiring only: the work happens in ``spotify_pipeline.jobs.download_followed_artists``, imported inside the task.
"""

from __future__ import annotations

from airflow.sdk import dag, task

from spotify_pipeline.orchestration.airflow_dags import (
    SPOTIFY_CONN_ID,
    START_DATE,
    default_args,
    download_dag_kwargs,
    interval_timetable,
    raw_zone_asset,
    spotify_pool,
)

DOC = """
### Spotify: followed artists, daily

Refreshes the access token, pages through every followed artist and merges the pages into
`following_artists/YYYYMMDDHH.json`, named after the hour the run's data interval ends (the daily
run for `[Nov 28 00:00, Nov 29 00:00)` lands in `...2026112900.json`). The data pipeline turns the
daily lists into a history (followed from / until).

Schedule `0 0 * * *` (UTC); override with `[spotify_pipeline] daily_download_schedule`
(env `AIRFLOW__SPOTIFY_PIPELINE__DAILY_DOWNLOAD_SCHEDULE`).

Skipped on a long 429 pause; failed without retry when the login is gone (`spotify-pipeline auth login`).
"""


@dag(
    dag_id="spotify_daily_download",
    schedule=interval_timetable("daily_download_schedule"),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    tags=["spotify", "download"],
    doc_md=DOC,
    # Which Spotify app (connection) this DAG serves; a trigger may name another.
    params={"spotify_conn_id": SPOTIFY_CONN_ID},
    **download_dag_kwargs(),
)
def spotify_daily_download() -> None:
    @task(multiple_outputs=False)
    def listeners(conn_id: str) -> list[dict[str, object]]:
        from spotify_pipeline.orchestration.airflow_tasks import listener_plan

        return listener_plan(conn_id)

    # One mapped task instance per listener, read at run time; the pool bounds the app's calls.
    @task(outlets=[raw_zone_asset()], pool=spotify_pool(), multiple_outputs=False)
    def fetch_followed_artists(user: str, partition: bool, conn_id: str) -> dict[str, object]:
        from spotify_pipeline.orchestration.airflow_tasks import run_job

        return run_job("download_followed_artists", conn_id=conn_id, user=user, partition=partition)

    fetch_followed_artists.expand_kwargs(listeners("{{ params.spotify_conn_id }}"))


spotify_daily_download()
