"""Import a generated 500k-record extended export into SQLite: records/s and peak RSS.

    .venv/bin/python bench/bench_import.py [--records 500000] [--keep DIR]

The export comes from the simulator's writer (``simulator.export.write_extended_export``), fed by a
synthetic stream of plays (one per ~3.5 min of listening, so a lifetime spans years as real ones do).
Baseline: the same records parsed by the same reader and written with a plain executemany
``INSERT OR IGNORE`` (no matching, no accounting), in the same process. Peak RSS is the process's
``ru_maxrss``: generation runs in a child process so its memory does not count.
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path


def _generate(folder: Path, n: int) -> None:
    from spotify_pipeline.simulator.app import shared_catalog
    from spotify_pipeline.simulator.export import write_extended_export
    from spotify_pipeline.simulator.model import TruePlay

    catalog = shared_catalog(7)
    track_ids = sorted(catalog.tracks)
    t = datetime(2012, 1, 1, tzinfo=UTC)

    def plays():
        nonlocal t
        for i in range(n):
            ms = 20_000 + (i * 7919) % 240_000
            start = t
            t = t + timedelta(milliseconds=ms + 1_000 + (i % 13) * 997)
            yield TruePlay(
                "bench",
                "music",
                track_ids[(i * 31) % len(track_ids)],
                None,
                start,
                t,
                ms,
                None,
                "trackdone",
                "trackdone",
                bool(i % 2),
                ms < 30_000,
                i % 97 == 0,
                False,
                "android",
                "DE",
                t,
            )

    write_extended_export(plays(), catalog, folder)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=500_000)
    parser.add_argument("--keep", type=Path, help="use/keep the export and databases in this folder")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-import-"))
    export = work / "export"
    if not export.exists():
        t0 = time.perf_counter()
        child = multiprocessing.get_context("spawn").Process(target=_generate, args=(export, args.records))
        child.start()
        child.join()
        if child.exitcode != 0:
            raise SystemExit(f"generating the export failed (exit code {child.exitcode})")
        print(f"generated {args.records} records in {time.perf_counter() - t0:.1f} s -> {export}")
    size_mb = sum(p.stat().st_size for p in export.glob("*.json")) / 2**20
    rss_before = _peak_rss_mb()

    from spotify_pipeline.jobs.import_history import import_history
    from spotify_pipeline.settings import Settings
    from spotify_pipeline.warehouse.engine import make_engine, upgrade

    db = work / "import.db"
    db.unlink(missing_ok=True)
    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine)
    settings = Settings(warehouse_url=f"sqlite:///{db}", user="bench")
    t0 = time.perf_counter()
    report = import_history(settings, export, engine=engine)
    t_import = time.perf_counter() - t0
    rss_import = _peak_rss_mb()

    from spotify_pipeline.exports.reader import discover, read_records, sniff

    base = work / "baseline.db"
    base.unlink(missing_ok=True)
    conn = sqlite3.connect(base)
    conn.execute("CREATE TABLE plays (user_id TEXT, played_at TEXT, track_id TEXT, ms_played INT, "
                 "reason_start TEXT, reason_end TEXT, PRIMARY KEY (user_id, played_at))")  # fmt: skip
    t0 = time.perf_counter()
    batch, n = [], 0
    for file in discover(export).files:
        fmt = sniff(file).format
        assert fmt is not None
        for rec in read_records(file, fmt):
            if hasattr(rec, "ended_at"):
                batch.append(
                    (
                        "bench",
                        rec.ended_at.isoformat(),
                        rec.track_id,
                        rec.ms_played,
                        rec.reason_start,
                        rec.reason_end,
                    )
                )
                n += 1
            if len(batch) >= 5000:
                conn.executemany("INSERT OR IGNORE INTO plays VALUES (?, ?, ?, ?, ?, ?)", batch)
                conn.commit()
                batch = []
    conn.executemany("INSERT OR IGNORE INTO plays VALUES (?, ?, ?, ?, ?, ?)", batch)
    conn.commit()
    t_base = time.perf_counter() - t0

    rate, base_rate = report.records_read / t_import, n / t_base
    print(f"\nexport: {report.records_read} records, {size_mb:.0f} MB in {len(report.files)} files")
    print(f"{'':<28}{'seconds':>10}{'records/s':>12}{'peak RSS MB':>14}")
    print(f"{'import_history':<28}{t_import:>10.1f}{rate:>12.0f}{rss_import:>14.0f}")
    print(f"{'executemany INSERT OR IGNORE':<28}{t_base:>10.1f}{base_rate:>12.0f}{'(same proc)':>14}")
    print(f"ratio import/baseline time: {t_import / t_base:.2f}x; RSS before import {rss_before:.0f} MB")
    print({k: v for k, v in report.to_dict().items() if isinstance(v, int)})
    ok = rss_import < 300
    print("peak RSS < 300 MB:", "yes" if ok else "NO")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
