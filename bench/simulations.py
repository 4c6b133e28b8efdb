"""The API-call and completeness simulations in one pool of processes.

They count calls and plays, not time, so they share one pool of 2 spawned processes, longest jobs
first (the two 5-user API runs, then the 20-minute completeness runs): no core idles while the
other finishes a phase. The functions live here, not in ``__main__``, because a spawned worker
must be able to import them by their module's name.
"""

from __future__ import annotations

from typing import Any

from . import bench_api_calls, bench_completeness
from .common import log_to_file


def _job(task: tuple[str, tuple[Any, ...]]) -> dict[str, Any]:
    which, args = task
    if which == "api":
        return bench_api_calls.simulate(*args)
    return bench_completeness.simulate(*args)


def run(size: dict[str, int], workers: int = 2) -> tuple[dict[str, Any], dict[str, Any]]:
    import multiprocessing

    tasks: list[tuple[str, tuple[Any, ...]]] = [("api", j) for j in bench_api_calls.jobs(size["api_days"])]
    tasks += [("completeness", j) for j in bench_completeness.jobs(size["complete_days"])]
    with multiprocessing.get_context("spawn").Pool(workers, initializer=log_to_file) as pool:
        rows = pool.map(_job, tasks, chunksize=1)  # the API runs are the longest: they go first
    n_api = len(bench_api_calls.jobs(size["api_days"]))
    return bench_api_calls.collect(rows[:n_api]), bench_completeness.collect(
        size["complete_days"], rows[n_api:]
    )
