"""spotify_bihourly_download: refresh the token, fetch recently played, land it in the raw zone.

Wiring only: the work happens in ``spotify_pipeline.jobs.download_recently_played``, imported inside the task.
"""

from __future__ import annotations

from airflow.sdk import dag, task

from spotify_pipeline.orchestration.airflow import (
    START_DATE,
    default_args,
    interval_timetable,
    raw_zone_asset,
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
)
def spotify_bihourly_download() -> None:
    @task(outlets=[raw_zone_asset()])
    def fetch_recently_played() -> dict[str, object]:
        from spotify_pipeline.orchestration.airflow import run_job

        return run_job("download_recently_played")

    fetch_recently_played()


spotify_bihourly_download()
