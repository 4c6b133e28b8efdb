"""The DAGs parse, keep the house rules, and stay thin: no logic and no heavy imports at parse time."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from .conftest import AIRFLOW_ENV, DAG_IDS, DAGS, ROOT

pytestmark = pytest.mark.airflow

DAG_FILES = sorted(DAGS.glob("*.py"))
# What importing a DAG file may add on top of Airflow itself: nothing that talks to Spotify,
# a database or S3, and none of the package's working layers.
FORBIDDEN_AT_PARSE = (
    "httpx",
    "sqlalchemy",
    "boto3",
    "botocore",
    "pymysql",
    "pydantic_settings",
    "spotify_pipeline.jobs",
    "spotify_pipeline.spotify",
    "spotify_pipeline.landing",
    "spotify_pipeline.warehouse",
    "spotify_pipeline.transform",
    "spotify_pipeline.settings",
)
ALLOWED_TOP_LEVEL_IMPORTS = {
    "__future__",
    "datetime",
    "airflow.sdk",
    "spotify_pipeline.orchestration.airflow",
    "spotify_pipeline.orchestration.airflow_dags",
}


def test_dagbag_imports_without_errors(dagbag) -> None:  # type: ignore[no-untyped-def]
    assert dagbag.import_errors == {}
    assert set(DAG_IDS) <= set(dagbag.dag_ids)
    assert {Path(dagbag.dags[d].fileloc).name for d in DAG_IDS} == {f"{d}.py" for d in DAG_IDS}


@pytest.mark.parametrize("dag_id", DAG_IDS)
def test_dag_policy(dagbag, dag_id: str) -> None:  # type: ignore[no-untyped-def]
    dag = dagbag.dags[dag_id]
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    assert dag.tags and "spotify" in dag.tags
    assert dag.doc_md and len(dag.doc_md) > 200
    assert dag.start_date is not None and dag.start_date.utcoffset() == timedelta(0)
    assert dag.tasks
    for task in dag.tasks:
        assert task.retries >= 2, task.task_id
        assert task.retry_exponential_backoff >= 2.0, task.task_id
        assert task.max_retry_delay is not None and task.max_retry_delay <= timedelta(hours=1)
        assert task.execution_timeout is not None, task.task_id
        # One small dict (or the listeners' list) per task: one XCom row, never one per key.
        assert task.multiple_outputs is False, task.task_id


def test_download_dags_use_data_intervals_and_publish_the_raw_zone(dagbag) -> None:  # type: ignore[no-untyped-def]
    from airflow.sdk import CronDataIntervalTimetable

    expected = {"spotify_bihourly_download": "10 */2 * * *", "spotify_daily_download": "0 0 * * *"}
    for dag_id, cron in expected.items():
        dag = dagbag.dags[dag_id]
        assert isinstance(dag.timetable, CronDataIntervalTimetable)
        assert dag.timetable.expression == cron
        assert len(dag.tasks) == 2
        fetch = next(t for t in dag.tasks if t.task_id.startswith("fetch_"))
        assert [a.name for a in fetch.outlets] == ["spotify_raw_zone"]
        # Mapped over the listeners read at run time, in the Spotify app's pool.
        assert fetch.upstream_task_ids == {"listeners"}
        assert type(fetch).__name__.endswith("MappedOperator")
        assert fetch.pool == "spotify_api"
        # A fetch cannot reach the past: a backfill is refused, not run.
        allowed = getattr(dag, "allowed_run_types", None)
        if allowed is not None:
            assert {str(getattr(r, "value", r)) for r in allowed} == {"scheduled", "manual"}


def test_data_pipeline_is_daily_at_six_utc_then_enriches(dagbag) -> None:  # type: ignore[no-untyped-def]
    from airflow.sdk import CronTriggerTimetable

    dag = dagbag.dags["spotify_daily_data_pipeline"]
    assert isinstance(dag.timetable, CronTriggerTimetable)
    assert dag.timetable.expression == "0 6 * * *"
    assert dag.get_task("enrich_metadata").upstream_task_ids == {"process_landed", "listeners"}
    assert dag.get_task("process_landed").upstream_task_ids == {"listeners"}
    assert dag.get_task("listeners").upstream_task_ids == {"migrate_warehouse"}
    assert dag.get_task("migrate_warehouse").is_setup
    assert dag.get_task("enrich_metadata").pool == "spotify_api"


def _parse_in_subprocess(extra_env: dict[str, str], empty_dir: Path) -> dict[str, object]:
    """Parse the DAG folder with Airflow's DagBag in a fresh interpreter; report import errors,
    schedules and the modules that parsing our files added.

    The baseline is Airflow itself having parsed an empty folder: Airflow brings httpx and
    SQLAlchemy along on its own, which is not on us; what our files add on top is.
    """
    script = f"""
import json, sys
from airflow.models import DagBag
DagBag(dag_folder={str(empty_dir)!r})
baseline = set(sys.modules)
bag = DagBag(dag_folder={str(DAGS)!r})
out = {{
    "errors": {{k: v[-400:] for k, v in bag.import_errors.items()}},
    "dags": {{dag_id: repr(dag.timetable) for dag_id, dag in bag.dags.items()}},
    "new_modules": sorted(set(sys.modules) - baseline),
}}
print(json.dumps(out))
"""
    env = {**os.environ, **AIRFLOW_ENV, **extra_env}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["errors"] == {}
    return result


def test_parsing_imports_nothing_heavy(tmp_path: Path) -> None:
    result = _parse_in_subprocess({}, tmp_path)
    new = result["new_modules"]
    assert isinstance(new, list)
    offending = [m for m in new if any(m == f or m.startswith(f + ".") for f in FORBIDDEN_AT_PARSE)]
    assert offending == []
    assert set(result["dags"]) == set(DAG_IDS)  # type: ignore[arg-type]


def test_schedules_come_from_airflow_configuration_without_a_database(tmp_path: Path) -> None:
    result = _parse_in_subprocess(
        {
            "AIRFLOW__SPOTIFY_PIPELINE__BIHOURLY_DOWNLOAD_SCHEDULE": "*/30 * * * *",
            "AIRFLOW__SPOTIFY_PIPELINE__DATA_PIPELINE_SCHEDULE": "15 7 * * *",
            "AIRFLOW__SPOTIFY_PIPELINE__PROCESS_ON_LANDING": "true",
            # No metadata database at all: parsing must not need one.
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "sqlite:////nonexistent/dir/airflow.db",
        },
        tmp_path,
    )
    dags = result["dags"]
    assert isinstance(dags, dict)
    assert "*/30 * * * *" in dags["spotify_bihourly_download"]
    assert "0 0 * * *" in dags["spotify_daily_download"]
    pipeline = dags["spotify_daily_data_pipeline"]
    assert "AssetOrTimeSchedule" in pipeline and "spotify_raw_zone" in pipeline and "15 7 * * *" in pipeline


def test_a_bad_schedule_names_the_setting(tmp_path: Path) -> None:
    env = {**os.environ, **AIRFLOW_ENV, "AIRFLOW__SPOTIFY_PIPELINE__DAILY_DOWNLOAD_SCHEDULE": "every day"}
    done = subprocess.run(
        [sys.executable, str(DAGS / "spotify_daily_download.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "AIRFLOW__SPOTIFY_PIPELINE__DAILY_DOWNLOAD_SCHEDULE" in done.stderr
    assert "'every day' is not a valid cron expression" in done.stderr


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_dag_files_only_wire(path: Path) -> None:
    """Top-level imports are Airflow's SDK and the glue module; each task body is a lazy import
    and one returned call, so no logic can hide in a DAG file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Import):
            names = {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            names = {node.module or ""}
        else:
            continue
        assert names <= ALLOWED_TOP_LEVEL_IMPORTS, f"{path.name}: top-level import of {names}"

    tasks = [
        fn
        for fn in ast.walk(tree)
        if isinstance(fn, ast.FunctionDef) and any("task" in ast.unparse(d) for d in fn.decorator_list)
    ]
    assert tasks, f"{path.name} defines no @task"
    for fn in tasks:
        body = [s for s in fn.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
        assert len(body) == 2, f"{path.name}:{fn.name} should be a lazy import and one call"
        imp, ret = body
        assert isinstance(imp, ast.ImportFrom) and (imp.module or "").startswith("spotify_pipeline")
        assert isinstance(ret, ast.Return) and isinstance(ret.value, ast.Call)


def test_ruff_finds_no_airflow2_leftovers() -> None:
    ruff = Path(sys.executable).with_name("ruff")
    done = subprocess.run(
        [str(ruff), "check", "--no-cache", "--select", "AIR3", "--output-format", "concise", str(DAGS)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
