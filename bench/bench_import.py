"""(2) Import of an extended-history export into SQLite and MariaDB: records/s and peak RSS.

The export comes from the simulator's writer (``simulator.export.write_extended_export``) fed by a
synthetic stream of plays (one per ~3.5 min of listening, so 500k records span years as a real
lifetime does; 1 in 97 is private, about 4 % are under 30 s).

Baseline, per engine, in the same run: the same files read by the same streaming reader and every
parsed record written with a bare executemany ``INSERT OR IGNORE`` (sqlite3) / ``INSERT IGNORE``
(PyMySQL) into a ``plays`` table of the same shape (created by the same migrations), 5,000 rows per
commit: no matching, no accounting, no checks. The reader is in both, so the ratio is what the
import's own work costs. Every import and baseline runs in its own spawned process and reports that
process's ``ru_maxrss``.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from .common import MariaDbDatabase, remove, run_measured, scratch

TARGET_RATIO = 0.5
TARGET_RSS_MB = 300.0
COMMIT_EVERY = 5_000
PLAY_COLUMNS = (
    "user_id", "played_at", "track_id", "track_name", "artist_name", "album_name", "source",
    "ms_played", "reason_start", "reason_end", "shuffle", "skipped", "offline", "incognito",
    "platform", "country", "loaded_at",
)  # fmt: skip


def generate(folder: Path, n: int) -> int:
    """Write an n-record extended export into ``folder``; returns its size in bytes."""
    from spotify_pipeline.simulator.app import shared_catalog
    from spotify_pipeline.simulator.export import write_extended_export
    from spotify_pipeline.simulator.model import TruePlay

    catalog = shared_catalog(7)
    track_ids = sorted(catalog.tracks)

    def plays() -> Iterator[TruePlay]:
        t = datetime(2012, 1, 1, tzinfo=UTC)
        for i in range(n):
            ms = 20_000 + (i * 7919) % 240_000
            start = t
            t = t + timedelta(milliseconds=ms + 1_000 + (i % 13) * 997)
            yield TruePlay(
                "bench", "music", track_ids[(i * 31) % len(track_ids)], None, start, t, ms, None,
                "trackdone", "trackdone", bool(i % 2), ms < 30_000, i % 97 == 0, False, "android", "DE", t,
            )  # fmt: skip

    files = write_extended_export(plays(), catalog, folder)
    return sum(p.stat().st_size for p in files)


def import_child(export: Path, url: str, raw_zone: Path) -> dict[str, Any]:
    """In a child process: migrate, then time ``import_history`` alone (which copies the export's
    files into ``raw_zone`` first, as every import does: that copy is part of the measured time)."""
    from spotify_pipeline.jobs.import_history import import_history
    from spotify_pipeline.settings import load_settings
    from spotify_pipeline.warehouse.engine import make_engine, upgrade

    engine = make_engine(url)
    upgrade(engine)
    settings = load_settings(warehouse_url=url, user="bench", raw_zone=str(raw_zone))
    t0 = time.perf_counter()
    report = import_history(settings, export, engine=engine)
    seconds = time.perf_counter() - t0
    engine.dispose()
    counts = {k: v for k, v in report.to_dict().items() if isinstance(v, int)}
    return {"seconds": seconds, "records": report.records_read, "status": report.status, "counts": counts}


def _baseline_rows(export: Path) -> Iterator[tuple[Any, ...]]:
    from spotify_pipeline.exports.formats import ExportRecord
    from spotify_pipeline.exports.reader import discover, read_records, sniff

    now = datetime.now(UTC).replace(tzinfo=None)
    for file in discover(export).files:
        fmt = sniff(file).format
        if fmt is None:
            continue
        for rec in read_records(file, fmt):
            if isinstance(rec, ExportRecord):
                yield (
                    "bench", rec.ended_at.replace(tzinfo=None), rec.track_id, rec.track_name,
                    rec.artist_name, rec.album_name, "export", rec.ms_played, rec.reason_start,
                    rec.reason_end, rec.shuffle, rec.skipped, rec.offline, rec.incognito, rec.platform,
                    rec.country, now,
                )  # fmt: skip


def baseline_child(export: Path, url: str) -> dict[str, Any]:
    """In a child process: the same parsed records, bare executemany INSERT (OR) IGNORE, timed."""
    from spotify_pipeline.warehouse.engine import make_engine, upgrade

    engine = make_engine(url)
    upgrade(engine)  # the same table shape: columns, primary key, index
    engine.dispose()
    cols = ", ".join(PLAY_COLUMNS)
    if url.startswith("sqlite"):
        conn: Any = sqlite3.connect(url.removeprefix("sqlite:///"))
        sql = f"INSERT OR IGNORE INTO plays ({cols}) VALUES ({', '.join('?' * len(PLAY_COLUMNS))})"  # noqa: S608 - constant column names
        sqlite3.register_adapter(datetime, lambda d: d.isoformat(" "))
        conn.execute("PRAGMA synchronous=NORMAL")  # as the warehouse engine sets it (WAL)
    else:
        import pymysql
        from sqlalchemy.engine import make_url

        parsed = make_url(url)
        conn = pymysql.connect(
            host=parsed.host,
            port=parsed.port or 3306,
            user=parsed.username,
            password=parsed.password or "",
            database=parsed.database,
            charset="utf8mb4",
        )
        sql = f"INSERT IGNORE INTO plays ({cols}) VALUES ({', '.join(['%s'] * len(PLAY_COLUMNS))})"  # noqa: S608 - constant column names
    t0 = time.perf_counter()
    n = 0
    batch: list[tuple[Any, ...]] = []
    cur = conn.cursor()
    for row in _baseline_rows(export):
        batch.append(row)
        if len(batch) >= COMMIT_EVERY:
            cur.executemany(sql, batch)
            conn.commit()
            n += len(batch)
            batch = []
    if batch:
        cur.executemany(sql, batch)
        conn.commit()
        n += len(batch)
    seconds = time.perf_counter() - t0
    conn.close()
    return {"seconds": seconds, "records": n}


PEER = "spotify-to-sqlite==0.2.1"
TARGET_PEER_RATIO = 2.0
# The peer's CLI no longer starts with current typer: its function is called directly. It prints a
# progress bar; the last line of its output is ours.
_PEER_SCRIPT = """
import json, resource, sqlite3, sys, time
from spotify_to_sqlite.utils import convert_export
t0 = time.perf_counter()
convert_export(sys.argv[1], sys.argv[2], recreate=True)
seconds = time.perf_counter() - t0
db = sqlite3.connect(sys.argv[2])
tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
rows = sum(db.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in tables)
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print()
print(json.dumps({"seconds": seconds, "rows": rows, "peak_rss_mb": rss}))
"""


PEER_RETRY_SECONDS = 86400  # a failed install of the peer is tried again after a day


def peer_python() -> Path:
    """The peer's own throwaway virtualenv (never the project's), made once in the checkout's
    ``.bench-cache/`` (git-ignored; ``make clean`` keeps it) and reused by every later run: its
    install is not what is measured, and a temp folder is emptied by a reboot. Override the
    folder with SPOTIFY_PIPELINE_BENCH_CACHE."""
    cache = Path(
        os.environ.get("SPOTIFY_PIPELINE_BENCH_CACHE")
        or Path(__file__).resolve().parent.parent / ".bench-cache"
    )
    venv = cache / f"peer-{PEER.replace('==', '-')}"
    legacy = Path(tempfile.gettempdir()) / f"sp-bench-peer-{PEER.replace('==', '-')}"
    if not (venv / ".installed").exists() and (legacy / ".installed").exists():
        venv = legacy  # made by an earlier release of this benchmark: reused, not installed again
    python = venv / "bin" / "python"
    if (venv / ".installed").exists():
        return python
    failed = cache / f"peer-{PEER.replace('==', '-')}.failed"
    if failed.exists() and time.time() - failed.stat().st_mtime < PEER_RETRY_SECONDS:
        # No package index here (a loopback-only machine): not asked again on every run, which
        # cost minutes of pip's retries each time. Delete the file to try again sooner.
        raise OSError(f"{failed.read_text().strip()} (not retried before a day has passed: delete {failed})")
    shutil.rmtree(venv, ignore_errors=True)
    cache.mkdir(parents=True, exist_ok=True)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", "--retries", "1",
             "--timeout", "15", PEER],
            check=True,
            capture_output=True,
        )  # fmt: skip
    except subprocess.CalledProcessError as exc:
        err = (exc.stderr or b"").decode(errors="replace").strip().splitlines()
        failed.write_text(f"pip could not install {PEER}: {err[-1] if err else exc}\n")
        shutil.rmtree(venv, ignore_errors=True)
        raise
    failed.unlink(missing_ok=True)
    (venv / ".installed").touch()
    return python


def run_peer(zip_path: Path, db_path: Path) -> dict[str, Any]:
    """spotify-to-sqlite 0.2.1's ``convert_export`` on the same zip, timed inside its process."""
    try:
        python = peer_python()
    except (subprocess.CalledProcessError, OSError) as exc:
        err = getattr(exc, "stderr", b"") or b""
        return {"error": f"could not install {PEER}: {exc} {err.decode(errors='replace')[-300:]}"}
    done = subprocess.run(
        [str(python), "-c", _PEER_SCRIPT, str(zip_path), str(db_path)],
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )
    if done.returncode != 0:
        return {"error": f"{PEER} failed: {done.stderr.strip()[-300:]}"}
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def zip_export(folder: Path, zip_path: Path) -> None:
    """The export as Spotify sends it: one zip, the files in a folder."""
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for path in sorted(folder.glob("*.json")):
            zf.write(path, f"Spotify Extended Streaming History/{path.name}")


def run(records: int, mariadb_version: str | None) -> dict[str, Any]:
    """Generate, then per engine: import and baseline, each in its own process."""
    work = scratch("import")
    try:
        export = work / "export"
        gen = run_measured(generate, export, records)
        result: dict[str, Any] = {
            "records": records,
            "export_mb": round(gen.value / 2**20, 1),
            "files": len(list(export.glob("*.json"))),
            "generate_seconds": round(gen.seconds, 1),
            "targets": {"rate_ratio_min": TARGET_RATIO, "peak_rss_mb_max": TARGET_RSS_MB},
            "engines": {},
        }
        zip_path = work / "my_spotify_data.zip"
        zip_export(export, zip_path)
        result["zip_mb"] = round(zip_path.stat().st_size / 2**20, 1)
        engines: list[tuple[str, Any]] = [("sqlite", None)]
        if mariadb_version is not None:
            engines.append(("mariadb", MariaDbDatabase))
        for name, maker in engines:
            if maker is None:
                urls = (f"sqlite:///{work / 'import.db'}", f"sqlite:///{work / 'baseline.db'}")
                imp = run_measured(import_child, zip_path, urls[0], work / f"raw-{name}")
                base = run_measured(baseline_child, export, urls[1])
            else:
                with maker() as db_import:
                    imp = run_measured(import_child, zip_path, db_import.url, work / f"raw-{name}")
                with maker() as db_base:
                    base = run_measured(baseline_child, export, db_base.url)
            rate = imp.value["records"] / imp.value["seconds"]
            base_rate = base.value["records"] / base.value["seconds"]
            result["engines"][name] = {
                "import": {
                    "seconds": round(imp.value["seconds"], 2),
                    "records_per_s": round(rate),
                    "peak_rss_mb": round(imp.peak_rss_mb, 1),
                    "status": imp.value["status"],
                    "counts": imp.value["counts"],
                },
                "baseline": {
                    "seconds": round(base.value["seconds"], 2),
                    "records_per_s": round(base_rate),
                    "peak_rss_mb": round(base.peak_rss_mb, 1),
                },
                "rate_ratio": round(rate / base_rate, 3),
                "rate_ok": rate / base_rate >= TARGET_RATIO,
                "rss_ok": imp.peak_rss_mb <= TARGET_RSS_MB,
            }
        peer = run_peer(zip_path, work / "peer.db")
        if "error" not in peer:
            ours = result["engines"]["sqlite"]["import"]["records_per_s"]
            peer["records_per_s"] = round(peer["rows"] / peer["seconds"])
            peer["ratio"] = round(ours / peer["records_per_s"], 2)
            peer["ok"] = peer["ratio"] >= TARGET_PEER_RATIO
        result["peer"] = {"package": PEER, "target_ratio_min": TARGET_PEER_RATIO, **peer}
        return result
    finally:
        remove(work)
