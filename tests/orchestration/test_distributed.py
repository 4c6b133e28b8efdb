"""A distributed run: Airflow 3 with the CeleryExecutor, two workers, one of them killed mid-task.

Everything is real and on loopback (bench/airflow_cluster.py builds it): PostgreSQL as Airflow's
metadata database and as the warehouse (fresh databases, dropped afterwards), Redis as the Celery
broker, ``airflow api-server``, ``scheduler``, ``dag-processor`` and two ``airflow celery worker``
processes, moto S3 as the raw zone, and the bundled simulator with three listeners whose tokens
live in the shared encrypted token store. The DAGs run over one simulated day, compressed: a
recently-played run every 6 simulated hours (the simulator's clock is set to each poll's moment,
the run is triggered with that logical date), the data pipeline at midday and at the day's end
after the followed-artists run.

During the third poll the simulator holds one recently-played answer for a while and the Celery
worker running that task is SIGKILLed with its whole process group, as a host dies. The task's
heartbeat stops, the scheduler fails the attempt and retries it, and the other worker completes it.

Then: every play the simulator showed each listener is in the warehouse exactly once, each
listener's raw objects are under their own partition in the bucket, and each listener can still
refresh and fetch with the tokens left in the store (no rotated refresh token was lost).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from bench.airflow_cluster import Cluster, ClusterConfig, ServiceMissing, check_services, polls
from tests.conftest import _unavailable

pytestmark = [
    pytest.mark.airflow,
    pytest.mark.postgres,
    pytest.mark.s3,
    pytest.mark.slow,
    pytest.mark.timeout(600),
]

USERS = (("ann", "light"), ("bob", "typical"), ("cid", "heavy"))
EVERY_HOURS = 6
#: How long the simulator holds the answer the killed task waits for: time enough to find and kill it.
HOLD_SECONDS = 15.0


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    try:
        check_services()
    except ServiceMissing as exc:
        _unavailable("the distributed Airflow test's services", str(exc))
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    config = ClusterConfig(users=USERS, start=midnight - timedelta(days=2), workers=2)
    with Cluster(config, tmp_path_factory.mktemp("cluster")) as running:
        yield running


def _running_fetch(cluster: Cluster, run_id: str, seconds: float = 60) -> tuple[dict[str, Any], str]:
    """The fetch task instance that is running on a Celery worker, and that worker's name."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for ti in cluster.task_instances("spotify_bihourly_download", run_id):
            if ti["task_id"] == "fetch_recently_played" and ti["state"] == "running" and ti.get("pid"):
                worker = cluster.worker_of(int(ti["pid"]))
                if worker is not None:
                    return ti, worker
        time.sleep(0.3)
    raise AssertionError(
        f"no fetch task was seen running on a worker: {cluster.task_instances('spotify_bihourly_download', run_id)}"
    )


def _kill_a_worker_mid_task(cluster: Cluster, when: datetime) -> tuple[dict[str, Any], str]:
    """Trigger the poll with one answer held, SIGKILL the worker running that task; the run must
    still succeed. Returns the killed task's final state and the killed worker's name."""
    cluster.sim.faults.add(
        kind="slow", path_prefix="/v1/me/player/recently-played", count=1, delay=HOLD_SECONDS
    )
    run_id = cluster.trigger("spotify_bihourly_download", when)
    deadline = time.monotonic() + 60
    while cluster.sim.faults.active() and time.monotonic() < deadline:
        time.sleep(0.2)  # until a task asked and is being held
    time.sleep(3)  # the other listeners' fetches (not held) end in the meantime
    ti, worker = _running_fetch(cluster, run_id)
    cluster.kill(worker)
    assert cluster.wait("spotify_bihourly_download", run_id, seconds=240) == "success"
    final = next(
        t
        for t in cluster.task_instances("spotify_bihourly_download", run_id)
        if t["task_id"] == ti["task_id"] and t["map_index"] == ti["map_index"]
    )
    return final, worker


def _warehouse_plays(cluster: Cluster) -> dict[str, list[datetime]]:
    import sqlalchemy as sa

    engine = sa.create_engine(cluster.warehouse_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT user_id, played_at FROM plays")).all()
    finally:
        engine.dispose()
    out: dict[str, list[datetime]] = {}
    for user, played_at in rows:
        out.setdefault(str(user), []).append(played_at.astimezone(UTC))
    return out


def _as_utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def test_a_simulated_day_on_two_celery_workers_loses_nothing_when_a_worker_is_killed(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    from spotify_pipeline.jobs import download_recently_played

    moments = polls(cluster.config.start, days=1, every_hours=EVERY_HOURS)
    killed: tuple[dict[str, Any], str] | None = None
    for i, when in enumerate(moments):
        cluster.clock.set(when)
        if i == 2:
            killed = _kill_a_worker_mid_task(cluster, when)
        else:
            assert cluster.run("spotify_bihourly_download", when) == "success", when
        if i == 1:  # midday: load what landed so far
            assert cluster.run("spotify_daily_data_pipeline", when) == "success"
    assert cluster.run("spotify_daily_download", moments[-1]) == "success"
    assert cluster.run("spotify_daily_data_pipeline", moments[-1]) == "success"

    # The killed attempt was retried and completed by the worker still alive.
    assert killed is not None
    final, worker = killed
    assert final["state"] == "success" and final["try_number"] >= 2, final
    assert cluster.procs[worker].popen.poll() is not None  # it really is gone
    survivors = [n for n, p in cluster.procs.items() if n.startswith("worker") and p.popen.poll() is None]
    assert survivors and worker not in survivors

    # Every play the simulator showed a listener is in the warehouse, exactly once.
    stored = _warehouse_plays(cluster)
    for user, _profile in USERS:
        shown = {_as_utc(p) for p in cluster.tap.shown[user]}
        assert len(stored.get(user, [])) == len(set(stored.get(user, []))), f"{user}: a play twice"
        assert set(stored.get(user, [])) == shown, user
    assert sum(len(cluster.tap.shown[u]) for u, _ in USERS) > 20  # the comparison has teeth
    assert set(stored) == {u for u, _ in USERS if cluster.tap.shown[u]}

    # Raw objects under each listener's own partition.
    listed = cluster.s3().list_objects_v2(Bucket=cluster.bucket, Prefix="raw/users/")
    keys = [o["Key"] for o in listed.get("Contents", [])]
    for user, _ in USERS:
        assert any(k.startswith(f"raw/users/{user}/recently_played/") for k in keys), (user, keys)
        assert any(k.startswith(f"raw/users/{user}/following_artists/") for k in keys), (user, keys)

    # No token lost: with every access token expired, each listener refreshes from the store and fetches.
    cluster.sim.expire_access_tokens()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")  # the workers have them from aws_default
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    for user, _ in USERS:
        report = download_recently_played(
            cluster.listener_settings(user), hour=moments[-1] + timedelta(hours=1)
        )
        assert report.status == "ok", (user, report.to_dict())


def test_the_cluster_binds_loopback_only(cluster: Cluster) -> None:
    """Nothing the cluster started listens beyond 127.0.0.1 (no log server on every interface)."""
    listening = _listening_sockets({p.popen.pid for p in cluster.procs.values()})
    assert listening, "the cluster's processes listen somewhere"
    assert {addr for addr, _port in listening} <= {"127.0.0.1"}, listening


def _listening_sockets(groups: set[int]) -> set[tuple[str, int]]:
    """(address, port) of the TCP sockets in LISTEN state held by processes of these groups."""
    import os

    inodes: set[str] = set()
    for pid_dir in Path("/proc").iterdir():
        if not pid_dir.name.isdigit():
            continue
        try:
            if os.getpgid(int(pid_dir.name)) not in groups:
                continue
            for fd in (pid_dir / "fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except (OSError, ProcessLookupError):
            continue
    out: set[tuple[str, int]] = set()
    for table, family in (("/proc/net/tcp", 4), ("/proc/net/tcp6", 6)):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state != "0A" or inode not in inodes:  # 0A: LISTEN
                continue
            addr_hex, port_hex = local.split(":")
            out.add((_address(addr_hex, family), int(port_hex, 16)))
    return out


def _address(hex_addr: str, family: int) -> str:
    import ipaddress

    raw = bytes.fromhex(hex_addr)
    if family == 4:
        return str(ipaddress.IPv4Address(raw[::-1]))
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
    ip = ipaddress.IPv6Address(words)
    return str(ip.ipv4_mapped) if ip.ipv4_mapped else str(ip)
