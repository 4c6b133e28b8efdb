"""spotify_bihourly_download: refresh the token, fetch recently played, land it in the raw zone.

Wiring only: the work happens in ``spotify_pipeline.jobs.download_recently_played``, imported inside the task.
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
### Spotify: recently played, every two hours

Refreshes the access token (a rotated refresh token is stored in the shared token store), asks
Spotify for the last 50 plays and merges them into `recently_played/YYYYMMDDHH.json` in the raw
zone, where `HH` is the hour the run's **data interval ends** (interval `[10:10, 12:10)` -> `...12`).
Re-running an interval lands in the same object and merges: nothing is lost, nothing doubled.

Schedule `10 */2 * * *` (UTC); override with `[spotify_pipeline] bihourly_download_schedule`
(env `AIRFLOW__SPOTIFY_PIPELINE__BIHOURLY_DOWNLOAD_SCHEDULE`).

* Skipped: Spotify asked for a long pause (429); the reason is in the log, later runs resume.
* Failed, no retry: the refresh token is dead (`invalid_grant`): log in again with
  `spotify-pipeline auth login`.

Connections: `spotify_default`, `spotify_warehouse`, `aws_default` (see docs/airflow.md).
"""


@dag(
    dag_id="spotify_bihourly_download",
    schedule=interval_timetable("bihourly_download_schedule"),
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
def spotify_bihourly_download() -> None:
    @task(multiple_outputs=False)
    def listeners(conn_id: str) -> list[dict[str, object]]:
        from spotify_pipeline.orchestration.airflow_tasks import listener_plan

        return listener_plan(conn_id)

    # One mapped task instance per listener, read at run time; the pool bounds the app's calls.
    @task(outlets=[raw_zone_asset()], pool=spotify_pool(), multiple_outputs=False)
    def fetch_recently_played(user: str, partition: bool, conn_id: str) -> dict[str, object]:
        from spotify_pipeline.orchestration.airflow_tasks import run_job

        return run_job("download_recently_played", conn_id=conn_id, user=user, partition=partition)

    fetch_recently_played.expand_kwargs(listeners("{{ params.spotify_conn_id }}"))


spotify_bihourly_download()
