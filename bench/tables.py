"""The results as rich tables (what `make bench` prints); the JSON file holds the same numbers."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x * 100:.1f} %"


def _ok(flag: bool) -> str:
    return "[green]yes[/]" if flag else "[red]NO[/]"


def print_tables(r: dict[str, Any]) -> None:
    console = Console(width=max(Console().width, 170))  # the completeness table needs the room
    m = r["machine"]
    console.print(
        f"[bold]machine[/]: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB, Python {m['python']}, "
        f"SQLite {m['sqlite']}, MariaDB {m['mariadb'] or 'not available'}"
    )
    if "import" in r:
        imp = r["import"]
        t = Table(
            title=f"(2) import of {imp['records']:,} extended records ({imp['export_mb']} MB, {imp['files']} files)"
        )
        for col in (
            "engine",
            "import rec/s",
            "baseline rec/s",
            "ratio",
            "≥ 50 %",
            "peak RSS MB",
            "≤ 300 MB",
            "baseline RSS MB",
        ):
            t.add_column(col, justify="right")
        for name, e in imp["engines"].items():
            t.add_row(
                name,
                f"{e['import']['records_per_s']:,}",
                f"{e['baseline']['records_per_s']:,}",
                f"{e['rate_ratio']:.2f}",
                _ok(e["rate_ok"]),
                f"{e['import']['peak_rss_mb']:.0f}",
                _ok(e["rss_ok"]),
                f"{e['baseline']['peak_rss_mb']:.0f}",
            )
        console.print(t)
        _peer_table(console, imp)
    if "processing" in r:
        p = r["processing"]
        t = Table(title=f"(3) processing: {p['days']} days of a heavy listener, {p['objects']:,} raw objects")
        for col in ("step", "seconds", "objects/s", "plays/s", "detail"):
            t.add_column(col, justify="right")
        t.add_row(
            "load",
            f"{p['load_seconds']:.1f}",
            f"{p['objects_per_s']:,}",
            f"{p['plays_per_s']:,}",
            f"{p['plays_inserted']:,} plays",
        )
        if "idle_seconds" in p:
            t.add_row(
                "a run with nothing new (fresh runtime)",
                f"{p['idle_seconds']:.2f}",
                "",
                "",
                f"{p['idle_seconds'] / p['load_seconds'] * 100:.1f} % of the load (≤ 5 %) "
                f"{_ok(p['idle_seconds'] <= 0.05 * p['load_seconds'])}",
            )
        t.add_row(
            "enrich",
            f"{p['enrich_seconds']:.1f}",
            "",
            "",
            f"{p['enrich_calls']} calls: {p['artists_fetched']} artists, {p['albums_fetched']} albums",
        )
        t.add_row(
            "reload (all duplicates)",
            f"{p['reload_seconds']:.1f}",
            f"{p['reload_objects_per_s']:,}",
            "",
            f"{p['reload_plays_inserted']} new plays",
        )
        base = p.get("baseline")
        if base is not None:
            t.add_row(
                "bare baseline (decode + executemany)",
                f"{base['seconds']:.1f}",
                f"{base['objects'] / base['seconds']:,.0f}",
                "",
                f"load / baseline speed [bold]{p['baseline_ratio']:.2f}[/] (≥ 0.50) {_ok(p['baseline_ratio'] >= 0.5)}",
            )
        old = p.get("before")
        if old is not None and "error" not in old:
            t.add_row(
                f"load, previous code ({old['commit']})",
                f"{old['seconds']:.1f}",
                f"{old['objects'] / old['seconds']:,.0f}",
                "",
                f"speed-up [bold]{p['speedup']:.2f}×[/] (≥ 3) {_ok(p['speedup'] >= 3.0)}",
            )
        elif old is not None:
            t.add_row("load, previous code", "", "", "", f"not measured: {old['error']}")
        t.caption = f"peak RSS {p['peak_rss_mb']:.0f} MB (includes the in-process simulator)"
        console.print(t)
        if "rawzone" in p:
            _rawzone_table(console, p["rawzone"])
    if "api" in r:
        for row in r["api"]["rows"]:
            t = Table(
                title=f"(4) API calls, {row['mode']} mode: {row['users']} users, {row['days']} days, "
                f"polls every {row['poll_minutes']} min"
            )
            for col in ("calls", "made", "minimum"):
                t.add_column(col, justify="right")
            for k, n in row["made"].items():
                t.add_row(k, f"{n:,}", f"{row['minimum'].get(k, 0):,}")
            t.add_row("[bold]ratio[/]", f"[bold]{row['ratio']:.2f}[/]", "1.00")
            t.add_row("repeated lookups", str(row["repeated_lookups"]), "0")
            t.add_row("token refreshes", f"{row['token_refreshes']:,}", "(apart)")
            t.add_row("capability probes (403)", str(row["capability_probes_403"]), "(apart)")
            for k, n in row["other_calls"].items():
                t.add_row(k, str(n), "(apart)")
            console.print(t)
    if "completeness" in r:
        c = r["completeness"]
        t = Table(title=f"(5) completeness over {c['days']} days (true = reachable plays)")
        for col in (
            "profile",
            "poll",
            "late",
            "max plays/poll",
            "captured",
            "lost",
            "true gaps",
            "gaps found",
            "recall",
            "false gaps",
            "late losses",
            "exactly once after import",
        ):
            t.add_column(col, justify="right")
        for row in c["rows"]:
            t.add_row(
                row["profile"],
                f"{row['poll_minutes']} min",
                f"{row['late_share']:.2f}",
                str(row["max_plays_between_polls"]),
                f"{row['captured']:,}/{row['true_plays']:,} ({_pct(row['captured_ratio'])})",
                str(row["lost_plays"]),
                str(row["true_gaps"]),
                str(row["gaps_detected"]),
                _pct(row["gap_recall"]),
                str(row["false_gaps"]),
                str(row["late_losses"]),
                f"{row['exactly_once']:,}/{row['visible_plays']:,} ({_pct(row['exactly_once_ratio'])})",
            )
        console.print(t)
    if "simulator" in r:
        sim = r["simulator"]
        t = Table(title="simulator, each in a fresh process")
        for col in ("measure", "seconds", "target", "met", "detail"):
            t.add_column(col, justify="right")
        t.add_row(
            "server ready (built, serving, first page answered)",
            f"{sim['ready_seconds']:.2f}",
            f"< {sim['ready_target_s']:g} s",
            _ok(sim["ready_ok"]),
            f"{sim['first_page_items']} items",
        )
        t.add_row(
            f"history: {sim['history_users']} users x {sim['history_days']} days",
            f"{sim['history_seconds']:.2f}",
            f"< {sim['history_target_s']:g} s",
            _ok(sim["history_ok"]),
            f"{sum(sim['history_plays'].values()):,} plays",
        )
        console.print(t)
    if "stats" in r:
        st = r["stats"]
        engines = list(st["engines"])
        t = Table(
            title=f"(6) stats on {st['plays']:,} plays ({st['timezone']}), p50 / p95 ms over {st['runs']} runs"
        )
        t.add_column("query")
        for name in engines:
            e = st["engines"][name]
            rolled = f", rollups {e['rollup_seconds']} s" if "rollup_seconds" in e else ""
            t.add_column(f"{name} (filled in {e['fill_seconds']} s{rolled})", justify="right")
        for query in st["engines"][engines[0]]["queries"] if engines else ():
            cells = [st["engines"][e]["queries"][query] for e in engines]
            t.add_row(query, *(f"{c['p50_ms']:,.0f} / {c['p95_ms']:,.0f}" for c in cells))
        console.print(t)
        t = Table(title=f"(7) dashboard pages and API answers on {st['plays']:,} plays, p50 / p95 ms")
        t.add_column("period: path")
        for name in engines:
            t.add_column(name, justify="right")
        for page in st["engines"][engines[0]].get("pages", {}) if engines else ():
            cells = [st["engines"][e]["pages"][page] for e in engines]
            t.add_row(page, *(f"{c['p50_ms']:,.0f} / {c['p95_ms']:,.0f}" for c in cells))
        console.print(t)
    if "recommend" in r:
        print_recommend(console, r["recommend"])
    console.print(f"total {r['total_seconds']} s")


def print_recommend(console: Console, rec: dict[str, Any]) -> None:
    """(8) hit rate @25 of each list next to the baselines, then the release check against the truth."""
    t = Table(
        title=f"(8) recommendations: hit rate @{rec['k']} over the next {rec['horizon_days']} days (mean of the as-of dates)"
    )
    for col in (
        "history",
        "list",
        "list hit",
        "most played ever",
        "most played recently",
        "random",
        "list / best",
    ):
        t.add_column(col)
    for run in rec["lists"]:
        who = f"{run['profile']} seed {run['seed']}" + (" (names only)" if run["names_only"] else "")
        for kind, row in run["mean"].items():
            best = max(row["most_played_ever"], row["most_played_recently"], row["random"])
            ratio = row["list"] / best if best else float("nan")
            t.add_row(who, kind, _pct(row["list"]), _pct(row["most_played_ever"]), _pct(row["most_played_recently"]),
                      _pct(row["random"]), f"{ratio:.2f}")  # fmt: skip
    console.print(t)
    r = Table(title="(8) new releases of followed artists: found within a week, calls within the budget")
    for col in (
        "profile",
        "weeks",
        "releases",
        "within a week",
        "late",
        "missed",
        "max calls/day",
        "budget/day",
    ):
        r.add_column(col)
    for row in rec["releases"]:
        r.add_row(row["profile"], str(row["weeks"]), str(row["releases_made_for_followed"]), str(row["found_within_a_week"]),
                  str(row["found_late"]), str(row["missed"]), str(row["max_calls_per_day"]), str(row["call_budget_per_day"]))  # fmt: skip
    console.print(r)


def _rawzone_table(console: Console, z: dict[str, Any]) -> None:
    b = z["bytes"]
    t = Table(
        title=f"(3b) raw zone, uncompressed (.json) and gzip (.json.gz): heavy listener, {b['days_sampled']} days sampled"
    )
    for col in ("what", ".json", ".json.gz", "ratio"):
        t.add_column(col, justify="right")
    for minutes in (20, 120):
        row = b[f"every_{minutes}_min"]
        every = f"every {minutes} min" if minutes < 60 else f"every {minutes // 60} h"
        t.add_row(
            f"bytes per poll, polls {every}",
            f"{row['bytes_per_poll_json']:,}",
            f"{row['bytes_per_poll_gzip']:,}",
            f"{row['ratio']:.1f}×",
        )
        t.add_row(
            f"MB per listener-year, polls {every}",
            f"{row['mb_per_listener_year_json']:,.0f}",
            f"{row['mb_per_listener_year_gzip']:,.0f}",
            "",
        )
    r = z["rebuild"]
    t.add_row(
        f"the processing year's zone, MB ({r['objects']:,} objects)",
        f"{r['zone_mb_json']:,.1f}",
        f"{r['zone_mb_gzip']:,.1f}",
        f"{r['zone_mb_json'] / max(r['zone_mb_gzip'], 0.1):.1f}×",
    )
    t.add_row(
        "rebuild of that year, seconds",
        f"{r['rebuild_json']['seconds']:.1f}",
        f"{r['rebuild_gzip']['seconds']:.1f}",
        f"{r['rebuild_gzip']['seconds'] / r['rebuild_json']['seconds']:.2f}",
    )
    console.print(t)


def _peer_table(console: Console, imp: dict[str, Any]) -> None:
    peer = imp.get("peer")
    if peer is None:
        return
    if "error" in peer:
        console.print(f"peer {peer['package']}: not measured ({peer['error']})", markup=False)
        return
    sqlite = imp["engines"]["sqlite"]["import"]
    t = Table(
        title=f"import of the same zip ({imp.get('zip_mb', '?')} MB) on SQLite, same run: ours against a peer"
    )
    for col in (
        "importer",
        "seconds",
        "records/s",
        "peak RSS MB",
        f"ours / theirs (≥ {peer['target_ratio_min']:.1f})",
    ):
        t.add_column(col, justify="right")
    t.add_row("spotify-pipeline import-history", f"{sqlite['seconds']:.1f}", f"{sqlite['records_per_s']:,}",
              f"{sqlite['peak_rss_mb']:.0f}", "")  # fmt: skip
    t.add_row(peer["package"], f"{peer['seconds']:.1f}", f"{peer['records_per_s']:,}",
              f"{peer['peak_rss_mb']:.0f}", f"[bold]{peer['ratio']:.2f}[/] {_ok(peer['ok'])}")  # fmt: skip
    console.print(t)
