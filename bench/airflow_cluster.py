"""A real Airflow 3 deployment on loopback: what the distributed test and ``make bench-scale`` run.

One :class:`Cluster` is, on 127.0.0.1 only and in a scratch folder:

* Airflow's metadata database: a fresh, uniquely named PostgreSQL database (dropped afterwards);
* the warehouse: another fresh PostgreSQL database, migrated, with the listeners registered and
  their tokens in the shared encrypted token store (``token_store = warehouse``);
* a moto S3 server on a free port (the raw zone) and the bundled Spotify simulator (in this
  process, on a free port), whose clock the caller moves from one simulated poll to the next;
* ``airflow api-server`` (the REST and execution APIs), ``airflow scheduler``, ``airflow
  dag-processor`` and, with the CeleryExecutor, N ``airflow celery worker`` processes with Redis
  as the broker (a dedicated database number, a queue named for this run). Every process has its
  own process group; :meth:`Cluster.stop` ends each group (SIGTERM, then SIGKILL), also on failure.

The caller drives runs through the REST API (:meth:`Cluster.run`, with a logical date) while the
simulator's clock stands at that poll's time; :class:`SpotifyTap` counts what the simulator served
(calls per listener and endpoint, 429s, the plays each listener was shown).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from .cluster_services import (
    HOST,
    PG_PORT,
    REDIS_DB,
    REDIS_PORT,
    ServiceMissing,
    SpotifyTap,
    SteppedClock,
    airflow_exe,
    check_services,
    create_database,
    drop_database,
    fernet_key,
    free_port,
    parent_of,
    pg_url,
    process_tree,
    redis_forget,
    signal_group,
    wait_port,
)

ROOT = Path(__file__).resolve().parent.parent
DAGS = ROOT / "dags"
DOWNLOADS = ("spotify_bihourly_download", "spotify_daily_download")
PIPELINE = "spotify_daily_data_pipeline"
#: Never fires in a run's lifetime: the scheduler starts nothing by itself, the caller triggers.
NEVER = "0 0 1 1 *"

__all__ = ["Cluster", "ClusterConfig", "ServiceMissing", "check_services", "polls", "simulate"]


# --------------------------------------------------------------------------------------------
# The cluster
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClusterConfig:
    users: tuple[tuple[str, str], ...]  # (name, simulator profile)
    start: datetime  # simulated time of the first poll's clock (the listeners' history begins)
    executor: str = "CeleryExecutor"  # or LocalExecutor
    workers: int = 2
    worker_concurrency: int = 2
    pool_slots: int = 2
    seed: int = 21
    retry_delay_seconds: int = 2
    heartbeat_timeout_seconds: int = 20
    rate_limit_per_30s: int = 180  # Spotify's budget per app, the simulator's default


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def tail(self, n: int = 4000) -> str:
        try:
            return self.log.read_text(errors="replace")[-n:]
        except OSError:
            return ""


class Cluster:
    """Start with ``with Cluster(config, work) as cluster:``; everything stops when the block ends."""

    def __init__(self, config: ClusterConfig, work: Path) -> None:
        self.config, self.work = config, work
        self.procs: dict[str, Proc] = {}
        self.databases: list[str] = []
        self.queue = f"sp-{uuid.uuid4().hex[:10]}"
        self.api_port = free_port()
        self.api = f"http://{HOST}:{self.api_port}"
        self.token_key = fernet_key()
        self._password = secrets.token_urlsafe(16)
        self._bearer: str | None = None
        self._stack: list[Callable[[], None]] = []
        self.sim: Any = None
        self.tap: SpotifyTap
        self.clock = SteppedClock(config.start)
        self.warehouse_url = ""
        self.bucket = f"sp-scale-{uuid.uuid4().hex[:10]}"
        self.s3_endpoint = ""
        self.timings: dict[str, float] = {}

    # -- lifecycle ----------------------------------------------------------------------------
    def __enter__(self) -> Cluster:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        t0 = time.monotonic()
        check_services()
        self.work.mkdir(parents=True, exist_ok=True)
        self._start_s3()
        self._start_simulator()
        self._prepare_warehouse()
        self._migrate_metadata()
        self._start_airflow()
        self.timings["start_seconds"] = round(time.monotonic() - t0, 1)

    def stop(self) -> None:
        """Every process group gets SIGTERM, then SIGKILL after a grace; so does every descendant
        seen before (task processes run in groups of their own); then the rest is undone."""
        procs = list(self.procs.values())
        trees = {proc.name: process_tree(proc.popen.pid) for proc in procs if proc.popen.poll() is None}
        for proc in procs:
            signal_group(proc.popen, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for proc in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
            signal_group(proc.popen, signal.SIGKILL)
            for pid in trees.get(proc.name, [])[1:]:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL) if os.getpgid(pid) == pid else os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.popen.wait(timeout=5)
        self.procs.clear()
        while self._stack:
            undo = self._stack.pop()
            try:
                undo()
            except Exception as exc:  # noqa: BLE001 - teardown goes on; the first failure is reported
                print(f"teardown: {exc}", file=sys.stderr)

    # -- services -----------------------------------------------------------------------------
    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> Proc:
        log = self.work / f"{name}.log"
        out = log.open("wb")
        popen = subprocess.Popen(
            argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, cwd=self.work
        )
        out.close()
        proc = Proc(name, popen, log)
        self.procs[name] = proc
        return proc

    def _start_s3(self) -> None:
        port = free_port()
        exe = str(Path(sys.executable).with_name("moto_server"))
        proc = self._spawn("moto", [exe, "-H", HOST, "-p", str(port)], dict(os.environ))
        if not wait_port(port, 30, lambda: proc.popen.poll() is None):
            raise ServiceMissing(f"moto_server did not start: {proc.tail()}")
        self.s3_endpoint = f"http://{HOST}:{port}"
        self.s3().create_bucket(Bucket=self.bucket)

    def s3(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.s3_endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def _start_simulator(self) -> None:
        from spotify_pipeline.simulator import Simulator, SimulatorConfig, serve

        config = SimulatorConfig(
            seed=self.config.seed,
            rate_limit_per_30s=self.config.rate_limit_per_30s,
            # Real time between polls is seconds, simulated time hours: a token minted at one poll
            # must not look expired at the next only because the simulator's clock jumped.
            access_token_ttl=30 * 24 * 3600,
        )
        self.sim = Simulator(config, clock=self.clock)
        for name, profile in self.config.users:
            self.sim.add_user(name, profile, since=self.config.start)
        self.tap = SpotifyTap(self.sim)
        self.sim.wsgi_app = self.tap.wrap(self.sim.wsgi_app)
        served = serve(self.sim)
        self.sim_info = served.__enter__()
        self._stack.append(lambda: served.__exit__(None, None, None))

    def listener_settings(self, user: str) -> Any:
        """The settings a task of ``user`` builds from the connections (for checks from outside)."""
        from spotify_pipeline.jobs.users import for_user
        from spotify_pipeline.settings import load_settings

        info = self.sim_info
        base = load_settings(
            client_id=info.client_id,
            client_secret=None,
            accounts_url=info.accounts_url,
            api_url=info.api_url,
            redirect_uri=info.redirect_uri,
            user=self.config.users[0][0],
            warehouse_url=self.warehouse_url,
            token_store_url=self.warehouse_url,
            token_key=self.token_key,
            raw_zone=f"s3://{self.bucket}/raw",
            s3_endpoint_url=self.s3_endpoint,
            s3_region="us-east-1",
            token_file=self.work / "unused-tokens.json",
        )
        return for_user(base, user, partition=True)

    def _prepare_warehouse(self) -> None:
        """The deploy step and the logins: migrate, register the listeners, store their tokens."""
        from spotify_pipeline.jobs.token_stores import open_token_store
        from spotify_pipeline.jobs.users import add_user
        from spotify_pipeline.spotify.auth import token_from_grant
        from spotify_pipeline.warehouse.engine import make_engine, upgrade

        name = create_database("sp_wh_")
        self.databases.append(name)
        self._stack.append(lambda: drop_database(name))
        self.warehouse_url = pg_url(name)
        engine = make_engine(self.warehouse_url)
        try:
            upgrade(engine)
        finally:
            engine.dispose()
        for user, _profile in self.config.users:
            settings = self.listener_settings(user)
            add_user(settings, user)
            grant = self.sim.grant(user, pkce=True)
            store = open_token_store(settings)
            store.save(token_from_grant(grant, client_id=self.sim_info.client_id, now=datetime.now(UTC)))

    def airflow_env(self) -> dict[str, str]:
        """The environment every Airflow process of this cluster shares."""
        home = self.work / "airflow-home"
        home.mkdir(exist_ok=True)
        passwords = home / "passwords.json"
        passwords.write_text(json.dumps({"bench": self._password}))
        meta = self._meta_db
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "SPOTIFY_PIPELINE_"))}
        env.update(
            {
                "AIRFLOW_HOME": str(home),
                "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")]).rstrip(
                    os.pathsep
                ),
                "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
                "AIRFLOW__CORE__EXECUTOR": self.config.executor,
                "AIRFLOW__CORE__PARALLELISM": "8",
                "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "8",
                "AIRFLOW__CORE__FERNET_KEY": fernet_key(),
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.api}/execution/",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "bench:admin",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
                "AIRFLOW__API__HOST": HOST,
                "AIRFLOW__API__PORT": str(self.api_port),
                "AIRFLOW__API__BASE_URL": self.api,
                "AIRFLOW__API__WORKERS": "1",
                "AIRFLOW__API__SECRET_KEY": secrets.token_hex(16),
                "AIRFLOW__API_AUTH__JWT_SECRET": self._jwt_secret,
                # Psycopg 3 for Airflow's own database too, sync and async: one PostgreSQL driver.
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": pg_url(meta),
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": pg_url(meta),
                "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
                "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5",
                # A worker killed mid-task stops heartbeating: its task fails and is retried this soon.
                "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(
                    self.config.heartbeat_timeout_seconds
                ),
                "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "3",
                "AIRFLOW__CELERY__BROKER_URL": f"redis://{HOST}:{REDIS_PORT}/{REDIS_DB}",
                "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + pg_url(meta),
                "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(self.config.worker_concurrency),
                "AIRFLOW__CELERY__TASK_ACKS_LATE": "True",
                "AIRFLOW__OPERATORS__DEFAULT_QUEUE": self.queue,
                "AIRFLOW__SPOTIFY_PIPELINE__RETRY_DELAY_SECONDS": str(self.config.retry_delay_seconds),
                "SPOTIFY_PIPELINE_TOKEN_KEY": self.token_key,
            }
        )
        for option in (
            "bihourly_download_schedule",
            "daily_download_schedule",
            "data_pipeline_schedule",
            "weekly_recommendations_schedule",
        ):
            env[f"AIRFLOW__SPOTIFY_PIPELINE__{option.upper()}"] = NEVER
        env.update(self._connections())
        return env

    def _connections(self) -> dict[str, str]:
        info = self.sim_info
        spotify = {
            "conn_type": "generic",
            "login": info.client_id,
            "password": "",
            "extra": {
                "redirect_uri": info.redirect_uri,
                "accounts_url": info.accounts_url,
                "api_url": info.api_url,
                "user": self.config.users[0][0],
                "raw_zone": f"s3://{self.bucket}/raw",
                "token_store": "warehouse",
            },
        }
        warehouse = {
            "conn_type": "postgres",
            "host": HOST,
            "port": PG_PORT,
            "login": "postgres",
            "schema": self.warehouse_url.rsplit("/", 1)[1],
        }
        aws = {
            "conn_type": "aws",
            "login": "testing",
            "password": "testing",
            "extra": {"endpoint_url": self.s3_endpoint, "region_name": "us-east-1"},
        }
        return {
            "AIRFLOW_CONN_SPOTIFY_DEFAULT": json.dumps(spotify),
            "AIRFLOW_CONN_SPOTIFY_WAREHOUSE": json.dumps(warehouse),
            "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(aws),
        }

    def _migrate_metadata(self) -> None:
        self._meta_db = create_database("sp_airflow_")
        name = self._meta_db
        self.databases.append(name)
        self._stack.append(lambda: drop_database(name))
        self._jwt_secret = secrets.token_hex(32)
        if self.config.executor == "CeleryExecutor":
            self._stack.append(lambda: redis_forget(self.queue))
        self.env = self.airflow_env()
        t0 = time.monotonic()
        done = subprocess.run(
            [airflow_exe(), "db", "migrate"],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"airflow db migrate failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
        self.timings["db_migrate_seconds"] = round(time.monotonic() - t0, 1)

    def _start_airflow(self) -> None:
        exe = airflow_exe()
        api = self._spawn(
            "api-server", [exe, "api-server", "--host", HOST, "--port", str(self.api_port)], self.env
        )
        # No log server: every process of this cluster writes task logs to the same local folder.
        self._spawn("scheduler", [exe, "scheduler", "--skip-serve-logs"], self.env)
        self._spawn("dag-processor", [exe, "dag-processor"], self.env)
        if self.config.executor == "CeleryExecutor":
            for i in range(1, self.config.workers + 1):
                self._spawn(
                    f"worker{i}",
                    [exe, "celery", "worker", "--queues", self.queue, "--celery-hostname", f"w{i}-{self.queue}@%h",
                     "--concurrency", str(self.config.worker_concurrency), "--skip-serve-logs",
                     "--without-gossip", "--without-mingle"],
                    self.env,
                )  # fmt: skip
        self._until(lambda: self._healthy(), 180, "the API server to answer", api)
        self.request("POST", "/api/v2/pools", json={"name": "spotify_api", "slots": self.config.pool_slots,
                                                    "description": "Spotify app"})  # fmt: skip
        for dag_id in (*DOWNLOADS, PIPELINE):
            self._until(
                lambda d=dag_id: self._dag_known(d),
                180,
                f"{dag_id} to be parsed",
                self.procs["dag-processor"],
            )
        if self.config.executor == "CeleryExecutor":
            self._until(self._workers_ready, 120, "the Celery workers to start", self.procs["worker1"])

    def _workers_ready(self) -> bool:
        return all(
            "ready." in self.procs[f"worker{i}"].tail(20000) for i in range(1, self.config.workers + 1)
        )

    def _until(self, check: Callable[[], bool], seconds: float, what: str, proc: Proc) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for p in self.procs.values():
                if p.popen.poll() is not None and p.name != "moto":
                    raise RuntimeError(
                        f"{p.name} exited ({p.popen.returncode}) waiting for {what}:\n{p.tail()}"
                    )
            try:
                if check():
                    return
            except Exception:  # noqa: BLE001,S110 - not up yet
                pass
            time.sleep(0.5)
        raise RuntimeError(
            f"timed out after {seconds:.0f} s waiting for {what}; {proc.name} log:\n{proc.tail()}"
        )

    # -- REST API -----------------------------------------------------------------------------
    def _healthy(self) -> bool:
        import httpx

        return httpx.get(f"{self.api}/api/v2/monitor/health", timeout=3).status_code == 200

    def _dag_known(self, dag_id: str) -> bool:
        import httpx

        return (
            httpx.get(f"{self.api}/api/v2/dags/{dag_id}", headers=self._auth(), timeout=5).status_code == 200
        )

    def _auth(self) -> dict[str, str]:
        import httpx

        if self._bearer is None:
            answer = httpx.post(
                f"{self.api}/auth/token", json={"username": "bench", "password": self._password}, timeout=10
            )
            answer.raise_for_status()
            self._bearer = str(answer.json()["access_token"])
        return {"Authorization": f"Bearer {self._bearer}"}

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        import httpx

        answer = httpx.request(method, f"{self.api}{path}", headers=self._auth(), timeout=30, **kwargs)
        if answer.status_code >= 400:
            raise RuntimeError(f"{method} {path}: {answer.status_code} {answer.text[:500]}")
        return answer.json() if answer.content else None

    def trigger(self, dag_id: str, logical_date: datetime) -> str:
        body = {
            "logical_date": logical_date.isoformat(),
            "dag_run_id": f"sim__{logical_date:%Y%m%dT%H%M}__{uuid.uuid4().hex[:6]}",
        }
        return str(self.request("POST", f"/api/v2/dags/{dag_id}/dagRuns", json=body)["dag_run_id"])

    def run_state(self, dag_id: str, run_id: str) -> str:
        return str(self.request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")["state"])

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        answer = self.request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances")
        return list(answer["task_instances"])

    def wait(self, dag_id: str, run_id: str, seconds: float = 180) -> str:
        """Wait for the run to end; its state (success, failed)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            state = self.run_state(dag_id, run_id)
            if state in ("success", "failed"):
                return state
            self._check_alive()
            time.sleep(0.5)
        raise RuntimeError(
            f"{dag_id} {run_id} did not end in {seconds:.0f} s: {self.task_instances(dag_id, run_id)}"
        )

    def run(self, dag_id: str, logical_date: datetime, seconds: float = 180) -> str:
        return self.wait(dag_id, self.trigger(dag_id, logical_date), seconds)

    def _check_alive(self) -> None:
        for p in self.procs.values():
            if p.popen.poll() is not None and not p.name.startswith("worker") and p.name != "moto":
                raise RuntimeError(f"{p.name} exited ({p.popen.returncode}):\n{p.tail()}")

    # -- faults -------------------------------------------------------------------------------
    def worker_of(self, pid: int) -> str | None:
        """The Celery worker whose process tree holds ``pid`` (a task's process: the task runs in
        its own process group, below the worker's supervisor)."""
        leaders = {proc.popen.pid: name for name, proc in self.procs.items() if name.startswith("worker")}
        while pid > 1:
            if pid in leaders:
                return leaders[pid]
            parent = parent_of(pid)
            if parent is None:
                return None
            pid = parent
        return None

    def kill(self, name: str) -> None:
        """SIGKILL a process and every descendant, as a host or container dies: no goodbye, no
        acknowledgement, and no task process left running on its own."""
        proc = self.procs[name]
        for pid in process_tree(proc.popen.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        signal_group(proc.popen, signal.SIGKILL)
        proc.popen.wait(timeout=10)


def polls(start: datetime, days: int, every_hours: int) -> list[datetime]:
    """The poll moments of ``days`` simulated days: every ``every_hours`` from ``start``, excluded."""
    step = timedelta(hours=every_hours)
    return [start + step * (i + 1) for i in range(days * 24 // every_hours)]


def simulate(cluster: Cluster, days: int, every_hours: int) -> dict[str, Any]:
    """Drive the DAGs over ``days`` simulated days, as compressed as correctness allows.

    Per poll: the simulator's clock is set to the poll's moment and a recently-played run is
    triggered with that logical date. At each day's last poll the followed-artists run starts with
    it; the data pipeline of that day runs beside the next day's first poll (it loads by manifest:
    what lands meanwhile is loaded the next time), and once more at the end. Returns the runs'
    states and the minimum calls per listener (as bench_api_calls counts them).
    """
    minimum: dict[str, Counter[str]] = defaultdict(Counter)
    states: Counter[str] = Counter()
    per_day = 24 // every_hours
    pending: list[tuple[str, str]] = []  # runs started beside the next poll
    for i, when in enumerate(polls(cluster.config.start, days, every_hours)):
        cluster.clock.set(when)
        started = [
            *pending,
            ("spotify_bihourly_download", cluster.trigger("spotify_bihourly_download", when)),
        ]
        pending = []
        for user, _ in cluster.config.users:
            minimum[user]["GET /v1/me/player/recently-played"] += 1
        if (i + 1) % per_day == 0:
            for user, _ in cluster.config.users:
                followed = len(cluster.sim.model.followed_artists(user, when))
                minimum[user]["GET /v1/me/following"] += max(1, math.ceil(followed / 50))
            started.append(("spotify_daily_download", cluster.trigger("spotify_daily_download", when)))
        for dag_id, run_id in started:
            states[f"{dag_id} {cluster.wait(dag_id, run_id, 300)}"] += 1
        if (i + 1) % per_day == 0:
            pending.append((PIPELINE, cluster.trigger(PIPELINE, when)))
    for dag_id, run_id in pending:
        states[f"{dag_id} {cluster.wait(dag_id, run_id, 300)}"] += 1
    return {"states": dict(states), "minimum": {u: dict(c) for u, c in minimum.items()}}
