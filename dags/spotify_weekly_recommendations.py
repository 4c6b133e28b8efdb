"""spotify_weekly_recommendations (opt-in): check new releases within the budget, then rewrite the
playlists the user opted in to.

Wiring only: the work happens in ``spotify_pipeline.jobs.releases.check_releases`` and the
playlist refresh of ``spotify_pipeline.orchestration.airflow_tasks``, imported inside the tasks.
"""

from __future__ import annotations

from airflow.sdk import dag, task

from spotify_pipeline.orchestration.airflow_dags import (
    START_DATE,
    default_args,
    interval_timetable,
    raw_zone_asset,
    spotify_pool,
)

DOC = """
### Spotify: new releases and recommendation playlists, weekly (opt-in)

Paused when it first appears: unpause it to opt in.

1. `check_new_releases` asks `GET /artists/{id}/albums` for the artists you follow or play most,
   each at most once every `release_check_every_days` (7) and at most `release_artists_per_day`
   (25) artists a day, lands the answers in `artist_albums/YYYYMMDDHH.json` and loads them into
   `releases`.
2. `refresh_playlists` rewrites, in place, each private playlist you opted in to once with
   `spotify-pipeline recommend --to-playlist NAME --apply` (needs `auth login --scope playlists`);
   with none, it does nothing.

Schedule `0 7 * * 1` (Mondays, UTC); override with `[spotify_pipeline] weekly_recommendations_schedule`
(env `AIRFLOW__SPOTIFY_PIPELINE__WEEKLY_RECOMMENDATIONS_SCHEDULE`). Skipped on a long 429 pause.
"""


@dag(
    dag_id="spotify_weekly_recommendations",
    schedule=interval_timetable("weekly_recommendations_schedule"),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    is_paused_upon_creation=True,
    default_args=default_args(),
    tags=["spotify", "recommendations"],
    doc_md=DOC,
)
def spotify_weekly_recommendations() -> None:
    # Both call Spotify: in the app's pool, and one small dict each (never split into XCom rows).
    @task(outlets=[raw_zone_asset()], pool=spotify_pool(), multiple_outputs=False)
    def check_new_releases() -> dict[str, object]:
        from spotify_pipeline.orchestration.airflow_tasks import run_job

        return run_job("check_releases")

    @task(pool=spotify_pool(), multiple_outputs=False)
    def refresh_playlists() -> dict[str, object]:
        from spotify_pipeline.orchestration.airflow_tasks import run_job

        return run_job("refresh_playlists")

    check_new_releases() >> refresh_playlists()


spotify_weekly_recommendations()
