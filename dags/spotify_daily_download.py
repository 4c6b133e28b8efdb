"""spotify_daily_download: refresh the token, fetch every followed artist, land them in the raw zone.

Wiring only: the work happens in ``spotify_pipeline.jobs.download_followed_artists``, imported inside the task.
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
)
def spotify_daily_download() -> None:
    @task(outlets=[raw_zone_asset()])
    def fetch_followed_artists() -> dict[str, object]:
        from spotify_pipeline.orchestration.airflow import run_job

        return run_job("download_followed_artists")

    fetch_followed_artists()


spotify_daily_download()
