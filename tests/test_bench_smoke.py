"""The benchmarks run (tiny sizes, SQLite only): their code cannot rot unnoticed. No timing is asserted;
the numbers live in docs/benchmarks.md, measured by `make bench`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import bench_api_calls, bench_completeness  # noqa: E402
from bench.__main__ import main  # noqa: E402


def test_quick_import_and_processing_write_results(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "latest.json"
    assert main(["--quick", "--no-mariadb", "--only", "import,processing", "--out", str(out)]) == 0
    r = json.loads(out.read_text())
    assert r["machine"]["cores"] >= 1 and r["machine"]["sqlite"]
    sqlite = r["import"]["engines"]["sqlite"]
    counts = sqlite["import"]["counts"]
    assert sqlite["import"]["status"] == "ok" and counts["records_read"] == r["import"]["records"]
    assert counts["imported_new"] == counts["imported"] > 0
    assert sqlite["baseline"]["records_per_s"] > 0 and sqlite["import"]["peak_rss_mb"] > 0
    p = r["processing"]
    assert p["objects"] == p["objects_landed"] == p["reload_objects"] > 0
    assert p["plays_inserted"] == p["plays_in_warehouse"] > 0
    assert p["reload_plays_inserted"] == 0  # the second load is all duplicates
    assert "(2) import" in capsys.readouterr().out


def test_api_calls_match_the_minimum_in_development_mode() -> None:
    row = bench_api_calls.simulate("development", days=1, poll_minutes=240)
    assert row["made"] == row["minimum"] and row["ratio"] == 1.0
    assert row["repeated_lookups"] == 0


def test_completeness_accounts_for_every_play() -> None:
    row = bench_completeness.simulate("binge", poll_minutes=120, days=2, late_share=0.0)
    assert row["captured"] + row["lost_plays"] + row["late_losses"] == row["true_plays"]
    assert row["false_gaps"] == 0 and row["gaps_detected"] == row["true_gaps"]
    assert row["exactly_once"] == row["visible_plays"] and row["rows_not_a_true_play"] == 0


def test_quick_simulator_benchmark_serves_and_generates(tmp_path: Path) -> None:
    out = tmp_path / "latest.json"
    assert main(["--quick", "--no-mariadb", "--only", "simulator", "--out", str(out)]) == 0
    sim = json.loads(out.read_text())["simulator"]
    assert sim["first_page_items"] > 0  # the first answer over the socket was a real page
    assert sim["history_users"] == len(sim["history_plays"]) == 5
    assert all(n > 0 for n in sim["history_plays"].values())
    assert sim["ready_seconds"] > 0 and sim["history_seconds"] > 0


def test_quick_stats_bench_times_every_query(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "latest.json"
    assert main(["--quick", "--no-mariadb", "--only", "stats", "--out", str(out)]) == 0
    st = json.loads(out.read_text())["stats"]
    queries = st["engines"]["sqlite"]["queries"]
    assert st["plays"] == 5_000 and "all: everything (stats)" in queries and "health" in queries
    assert all(q["p95_ms"] >= q["p50_ms"] > 0 for q in queries.values())
    pages = st["engines"]["sqlite"]["pages"]
    assert {"all: /", "all: /api/overview", "month: /health", "year: /api/timeline"} <= set(pages)
    assert all(v["p95_ms"] > 0 for v in pages.values())
    printed = capsys.readouterr().out
    assert "(6) stats" in printed and "(7) dashboard pages" in printed


def test_the_recommendation_backtest_and_release_check_run() -> None:
    from bench import bench_recommend

    result = bench_recommend.run(quick=True)
    for run in result["lists"]:
        for kind, row in run["mean"].items():
            assert set(row) == {"list", "most_played_ever", "most_played_recently", "random"}, kind
            assert all(0.0 <= v <= 1.0 for v in row.values())
    (releases,) = result["releases"]
    assert releases["missed"] == 0
    assert releases["max_calls_per_day"] <= releases["call_budget_per_day"]


def test_the_scale_table_says_how_the_schedule_was_compressed() -> None:
    """``make bench-scale`` prints one row per executor; the caption names the compression."""
    from bench import scale

    per_user = {
        u: {"profile": p, "made": 7, "minimum": 7, "ratio": 1.0, "plays_shown": 9, "plays_stored": 9}
        for u, p in scale.USERS
    }
    row = {
        "executor": "CeleryExecutor", "workers": 2, "days": 7, "every_hours": 24, "wall_seconds": 300.0,
        "start_seconds": 60.0, "runs": {"spotify_bihourly_download success": 7}, "per_user": per_user,
        "lookups": 40, "distinct_ids": 40, "throttled_429": 0, "load_average": [1.0, 2.0],
    }  # fmt: skip
    out = scale.table([row, {**row, "executor": "LocalExecutor", "workers": 0, "runs": {"x failed": 1}}])
    assert "the schedule compressed: 1 recently-played run(s)" in out and "polls 24 h" in out
    lines = out.splitlines()
    assert (
        "| CeleryExecutor (2 workers) | 300 s (+60 s start) | 7 (yes) | 1.00 1.00 1.00 1.00 1.00 |"
        in lines[-2]
    )
    assert "| LocalExecutor |" in lines[-1] and "(NO)" in lines[-1]
