"""``python -m bench`` (``make bench``): run every benchmark, print tables, write bench/results/latest.json.

python -m bench            # full sizes, about 7 minutes on 2 quiet cores
python -m bench --quick    # tiny sizes: checks that every benchmark runs, numbers mean nothing
python -m bench --only import,api    # a subset (import, processing, api, completeness, simulator, stats, recommend)
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import (
    bench_api_calls,
    bench_completeness,
    bench_import,
    bench_processing,
    bench_recommend,
    bench_simulator,
    bench_stats,
    simulations,
)
from .common import LOG_ENV, log_to_file, mariadb_available, restore_logging
from .machine import describe
from .tables import print_tables

FULL = {"records": 200_000, "process_days": 365, "api_days": 7, "complete_days": 7, "simulator_days": 30,
        "stats_plays": 300_000}  # fmt: skip
QUICK = {"records": 2_000, "process_days": 3, "api_days": 2, "complete_days": 2, "simulator_days": 2,
         "stats_plays": 5_000}  # fmt: skip
ALL = ("import", "processing", "api", "completeness", "simulator", "stats", "recommend")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (a smoke run)")
    parser.add_argument("--only", default=",".join(ALL), help=f"comma-separated subset of {', '.join(ALL)}")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "latest.json")
    parser.add_argument("--no-mariadb", action="store_true", help="SQLite only")
    args = parser.parse_args(argv)
    only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = [name for name in only if name not in ALL]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; choose from {', '.join(ALL)}")
    size = QUICK if args.quick else FULL
    maria = None if args.no_mariadb else mariadb_available()
    if maria is None and not args.no_mariadb:
        print(
            "MariaDB is not answering on 127.0.0.1:3306 (run `make services`): SQLite only", file=sys.stderr
        )
    results: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": args.quick,
        "sizes": size,
        "machine": describe(maria),
    }
    log_path = args.out.with_suffix(".log")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_path.write_text("")  # this run's log lines only
    print(f"log lines of the pipeline go to {log_path}", file=sys.stderr)
    root = logging.getLogger()
    saved_env, saved = os.environ.get(LOG_ENV), (root.handlers[:], root.level)
    os.environ[LOG_ENV] = str(log_path)  # spawned processes inherit it
    ours = log_to_file()
    try:
        _run(args, only, size, maria, results)
    finally:
        restore_logging(*saved, ours)
        if saved_env is None:
            os.environ.pop(LOG_ENV, None)
        else:
            os.environ[LOG_ENV] = saved_env
    print_tables(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"\nresults written to {args.out}")
    return 0


def _run(
    args: argparse.Namespace,
    only: list[str],
    size: dict[str, int],
    maria: str | None,
    results: dict[str, Any],
) -> None:
    t0 = time.perf_counter()
    if "api" in only and "completeness" in only:
        # Both are simulations that count calls and plays, not time: one pool of 2 processes
        # runs all their jobs, longest first, so no core idles while the other finishes a phase.
        started = time.perf_counter()
        print("running api and completeness (one pool) ...", file=sys.stderr, flush=True)
        results["api"], results["completeness"] = simulations.run(size)
        for name in ("api", "completeness"):
            results[name]["wall_seconds"] = round(time.perf_counter() - started, 1)
            results[name]["shared_pool"] = True
        only = [name for name in only if name not in ("api", "completeness")]
    steps = {
        "import": lambda: bench_import.run(size["records"], maria),
        "processing": lambda: bench_processing.run(size["process_days"]),
        "api": lambda: bench_api_calls.run(size["api_days"]),
        "completeness": lambda: bench_completeness.run(size["complete_days"]),
        "simulator": lambda: bench_simulator.run(size["simulator_days"]),
        "stats": lambda: bench_stats.run(size["stats_plays"], maria),
        "recommend": lambda: bench_recommend.run(args.quick),
    }
    for name in ALL:
        if name in only:
            started = time.perf_counter()
            print(f"running {name} ...", file=sys.stderr, flush=True)
            results[name] = steps[name]()
            results[name]["wall_seconds"] = round(time.perf_counter() - started, 1)
    results["total_seconds"] = round(time.perf_counter() - t0, 1)


if __name__ == "__main__":
    sys.exit(main())
