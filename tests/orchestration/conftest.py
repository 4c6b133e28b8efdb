"""Airflow test harness: a throwaway AIRFLOW_HOME with its metadata on SQLite, migrated once.

Airflow reads its configuration when it is first imported, so the environment is set here, when
pytest loads this conftest, before any test module of this folder imports Airflow. Nothing in
these tests touches a real AIRFLOW_HOME.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DAGS = ROOT / "dags"
DAG_IDS = (
    "spotify_bihourly_download",
    "spotify_daily_download",
    "spotify_daily_data_pipeline",
    "spotify_weekly_recommendations",
)

AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="sp-airflow-home-"))
# At interpreter exit, not in a fixture: the folder exists as soon as this file is imported, even
# when every test of this folder is deselected.
atexit.register(shutil.rmtree, AIRFLOW_HOME, True)
AIRFLOW_ENV = {
    "AIRFLOW_HOME": str(AIRFLOW_HOME),
    "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{AIRFLOW_HOME / 'airflow.db'}",
    "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
    # Parse errors must surface in the DagBag, not be hidden behind a timeout on a slow CI box.
    "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "120",
}
os.environ.update(AIRFLOW_ENV)
for _name in [n for n in os.environ if n.startswith("AIRFLOW__SPOTIFY_PIPELINE__")]:
    # A developer's own schedule overrides must not change what the policy tests see.
    del os.environ[_name]


def airflow_exe() -> str:
    return str(Path(sys.executable).with_name("airflow"))


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """Airflow's metadata database, created by ``airflow db migrate`` once per test session."""
    done = subprocess.run(
        [airflow_exe(), "db", "migrate"],
        env={**os.environ, **AIRFLOW_ENV},
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(
            f"`airflow db migrate` failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )
    return AIRFLOW_HOME / "airflow.db"


@pytest.fixture(scope="session")
def dagbag():  # type: ignore[no-untyped-def]
    from airflow.models import DagBag

    return DagBag(dag_folder=str(DAGS))
