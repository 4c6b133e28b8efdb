"""Airflow at run time, second half: the body of every task.

One call per task body: settings from connections (``airflow_connections``), the run's hour from
its data interval (``mapping``), one job of ``spotify_pipeline.jobs``, and its report turned into
what Airflow understands (XCom summary, skip, fail without retry, fail with retry). Also the
mapped DAGs' helpers: the listeners of a run, the migration setup task, enrichment with the first
listener's login. Airflow and the jobs are imported inside the functions (deferred: the DAG files import
this module at parse time, and the DAG processor parses often; a task pays for its imports once).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from .airflow_connections import _token_store_name, aws_environment, build_run_config, mask_run_secrets
from .airflow_dags import SPOTIFY_CONN_ID
from .mapping import backfill_interval, is_asset_triggered, plan_listeners, run_hour

if TYPE_CHECKING:
    from spotify_pipeline.jobs import JobReport
    from spotify_pipeline.settings import Settings

log = logging.getLogger(__name__)

JobName = Literal[
    "download_recently_played",
    "download_followed_artists",
    "process",
    "enrich",
    "check_releases",
    "refresh_playlists",
]


# --------------------------------------------------------------------------------------------
# one job, and its outcome in Airflow's terms
# --------------------------------------------------------------------------------------------


class JobFailed(RuntimeError):
    """A job reported ``failed``: Airflow retries the task with backoff."""


def _call(
    job: JobName, settings: Settings, context: Mapping[str, Any], partition: str | None = None
) -> JobReport:
    from spotify_pipeline import jobs

    if job == "download_recently_played":
        return jobs.download_recently_played(settings, hour=run_hour(context))
    if job == "download_followed_artists":
        return jobs.download_followed_artists(settings, hour=run_hour(context))
    if job == "process":
        return jobs.process(settings, partition=partition, reload_between=backfill_interval(context))
    if job == "enrich":
        # The daily run enriches whatever is missing; runs triggered by each landing wait for the
        # threshold, so a play every two hours does not cost an enrichment pass every two hours.
        return jobs.enrich(settings, force=not is_asset_triggered(context))
    if job == "check_releases":
        from spotify_pipeline.jobs.releases import check_releases

        return check_releases(settings, hour=run_hour(context))
    if job == "refresh_playlists":
        return refresh_playlists(settings)
    raise ValueError(f"unknown job {job!r}")


def refresh_playlists(settings: Settings) -> JobReport:
    """Rewrite the playlists the user opted in to (``recommend --to-playlist NAME --apply``) with
    this week's lists; nothing when no playlist was ever written."""
    from spotify_pipeline.insights.recommend import lists_for
    from spotify_pipeline.jobs.recommend import remembered_playlists, write_playlists
    from spotify_pipeline.jobs.report import JobReport as Report
    from spotify_pipeline.jobs.runtime import Runtime

    rt = Runtime(settings)
    opted = remembered_playlists(settings, runtime=rt)
    if not opted:
        report = Report("refresh_playlists", status="skipped")
        report.message = (
            "no playlist opted in: run `spotify-pipeline recommend --to-playlist NAME --apply` once"
        )
        return report
    now = datetime.now(UTC)
    report = Report("refresh_playlists")
    for kind, name in sorted(opted.items()):
        lists = lists_for(rt.engine, settings.user, now=now, kind=kind)
        done, _plans = write_playlists(settings, lists, name, apply=True, runtime=rt)
        for key, n in done.counts.items():
            report.add(key, n)
    report.message = f"refreshed {len(opted)} playlists"
    return report


def report_outcome(report: JobReport) -> dict[str, Any]:
    """ok, partial and skipped reports become the task's small XCom; paused skips the task (reason in
    the log); failed raises so Airflow retries with backoff."""
    from airflow.sdk.exceptions import AirflowSkipException

    summary: dict[str, Any] = report.to_dict()
    if report.status == "paused":
        reason = report.message or "Spotify asked to wait"
        if report.paused_until and "until" not in reason:
            reason += f"; paused until {report.paused_until.isoformat()}"
        raise AirflowSkipException(f"{report.job} skipped: {reason}")
    if report.status == "failed":
        raise JobFailed(f"{report.job} failed: {report.message}")
    if report.status == "partial":
        # e.g. a malformed object was quarantined: the rest loaded, the report names the object.
        log.warning("%s finished with problems: %s", report.job, report.message)
        for problem in report.problems:
            log.warning("%s: %s", report.job, problem)
    elif report.status == "skipped":
        # Nothing worth doing this time (enrich below its threshold): a success, not an Airflow skip.
        log.info("%s had nothing to do: %s", report.job, report.message)
    log.info("%s %s: %s", report.job, report.status, json.dumps(report.counts, sort_keys=True))
    return summary


def run_job(
    job: JobName,
    *,
    conn_id: str = SPOTIFY_CONN_ID,
    user: str | None = None,
    partition: bool = False,
    process_partition: str | None = None,
) -> dict[str, Any]:
    """The one call of a task body: settings from connections, one job, Airflow's outcome.

    Faults as a user needs them: ``invalid_grant`` and bad configuration fail at once without
    retries (a retry cannot fix them); a long 429 pause skips the task with the reason; anything
    else propagates and is retried with backoff.
    """
    from airflow.sdk import get_current_context
    from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

    from spotify_pipeline.errors import AuthError, ConfigError, LoginRequired, RateLimitPaused
    from spotify_pipeline.settings import mask_url

    context = get_current_context()
    try:
        config = build_run_config(conn_id=conn_id, user=user, partition=partition)
    except ConfigError as exc:
        raise AirflowFailException(
            f"{exc} (not retried: fix the configuration, then clear the task)"
        ) from exc
    mask_run_secrets(config)
    settings = config.settings
    log.info(
        "%s for user %r: raw zone %s, warehouse %s",
        job,
        settings.user,
        settings.raw_zone,
        mask_url(settings.warehouse_url.get_secret_value()),
    )
    try:
        with aws_environment(config.aws_credentials):
            report = _call(job, settings, context, process_partition)
    except LoginRequired as exc:
        raise AirflowFailException(
            f"{exc.reason} for user {settings.user!r}: log in again with "
            f"`spotify-pipeline auth login --user {settings.user}`, writing the token store the Airflow "
            f"workers read ({_token_store_name(settings)}). "
            "Not retried: no retry can fix this."
        ) from exc
    except AuthError as exc:
        # Rejected app credentials, a token answer without a refresh token: as final as a login.
        raise AirflowFailException(f"{exc} (not retried: no retry can fix this)") from exc
    except RateLimitPaused as exc:
        raise AirflowSkipException(f"{job} skipped: {exc}") from exc
    except ConfigError as exc:
        raise AirflowFailException(
            f"{exc} (not retried: fix the configuration, then clear the task)"
        ) from exc
    return report_outcome(report)


# --------------------------------------------------------------------------------------------
# the mapped DAGs: listeners, the migration setup task, enrichment
# --------------------------------------------------------------------------------------------


def listener_plan(conn_id: str = SPOTIFY_CONN_ID, *, loads: bool = False) -> list[dict[str, Any]]:
    """The ``listeners`` task: the registry (in the warehouse) or the connection's ``user`` alone,
    as the dicts the work tasks are mapped over (``mapping.plan_listeners``)."""
    from spotify_pipeline.jobs.users import listener_names

    config = build_run_config(conn_id=conn_id)
    mask_run_secrets(config)
    settings = config.settings
    return plan_listeners(
        listener_names(settings),
        user=settings.user,
        user_partition=settings.user_partition,
        conn_id=conn_id,
        loads=loads,
    )


def migrate_warehouse(conn_id: str = SPOTIFY_CONN_ID) -> dict[str, Any]:
    """The deploy step as a setup task: migrate the warehouse to the newest schema (idempotent)."""
    from spotify_pipeline.jobs.runtime import migrated_engine
    from spotify_pipeline.warehouse.engine import DbTimeouts, current_revision

    config = build_run_config(conn_id=conn_id)
    mask_run_secrets(config)
    settings = config.settings
    engine = migrated_engine(settings.warehouse_url.get_secret_value(), DbTimeouts.from_settings(settings))
    try:
        return {"revision": current_revision(engine)}
    finally:
        engine.dispose()


def enrich_with_first_listener(plan: list[dict[str, Any]], conn_id: str = SPOTIFY_CONN_ID) -> dict[str, Any]:
    """Catalog lookups need one listener's login; any will do: the first of the run's plan."""
    first = plan[0]
    return run_job("enrich", conn_id=conn_id, user=str(first["user"]), partition=bool(first["partition"]))
