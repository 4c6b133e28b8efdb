"""Pure helpers between an orchestrator's run and the jobs: no Airflow, no I/O.

A run's context (its data interval, run type, run_after) maps to the hour a download's raw object
is named after, the interval a backfill reloads, and whether an Asset update triggered it; the
listeners of a run map to the small dicts a DAG expands its tasks over (``.expand_kwargs``).
Tested without Airflow installed.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any


def _config_error(message: str) -> Exception:
    from spotify_pipeline.errors import ConfigError

    return ConfigError(message)


def _as_utc(value: Any) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise TypeError(f"expected a datetime from the Airflow context, got {type(value).__name__}")
    # pendulum DateTime is a datetime subclass; hand the jobs a plain stdlib UTC datetime.
    return datetime.fromtimestamp(value.timestamp(), tz=UTC)


def run_hour(context: Mapping[str, Any]) -> datetime:
    """The UTC hour a download's raw object is named after: the end of the run's data interval.

    Interval ``[10:10, 12:10)`` lands in ``YYYYMMDD12.json``: the hour the scheduled run starts in,
    which is where the original DAGs (named after the run time) put it. Re-running that interval,
    today or in a month, lands in the same object, which merges. A manual run without a logical
    date has no interval and uses the hour it was triggered for (``run_after``).
    """
    end = _as_utc(context.get("data_interval_end"))
    if end is None:
        dag_run = context.get("dag_run")
        end = _as_utc(getattr(dag_run, "run_after", None)) or _as_utc(context.get("logical_date"))
    if end is None:
        raise _config_error("this Airflow run has neither a data interval nor a run_after time")
    return end.replace(minute=0, second=0, microsecond=0)


def backfill_interval(context: Mapping[str, Any]) -> tuple[datetime, datetime] | None:
    """A backfill run's data interval: the data pipeline loads that interval's objects again."""
    run_type = getattr(context.get("dag_run"), "run_type", None)
    if str(getattr(run_type, "value", run_type)) != "backfill":
        return None
    start, end = _as_utc(context.get("data_interval_start")), _as_utc(context.get("data_interval_end"))
    return (start, end) if start is not None and end is not None and start < end else None


def is_asset_triggered(context: Mapping[str, Any]) -> bool:
    run_type = getattr(context.get("dag_run"), "run_type", None)
    return str(getattr(run_type, "value", run_type)) == "asset_triggered"


def plan_listeners(
    names: list[str], *, user: str, user_partition: bool, conn_id: str, loads: bool = False
) -> list[dict[str, Any]]:
    """One small dict per listener for ``.expand_kwargs``: the user, whether raw keys are partitioned
    (more than one listener, or ``user_partition``), the connection id, and (``loads``) the raw-zone
    partition their ``process`` loads, plus, when partitioned, one entry for the objects outside
    every partition (landed before there were several listeners; they belong to ``user``)."""
    partition = len(names) > 1 or user_partition
    plan: list[dict[str, Any]] = [
        {"user": name, "partition": partition, "conn_id": conn_id} for name in names
    ]
    if not loads:
        return plan
    for entry in plan:
        entry["process_partition"] = f"users/{entry['user']}/" if partition else None
    if partition:
        plan.append({"user": user, "partition": True, "conn_id": conn_id, "process_partition": ""})
    return plan
