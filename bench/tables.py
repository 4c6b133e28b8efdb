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
        t.caption = f"peak RSS {p['peak_rss_mb']:.0f} MB (includes the in-process simulator)"
        console.print(t)
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
            t.add_column(f"{name} (filled in {st['engines'][name]['fill_seconds']} s)", justify="right")
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
    console.print(f"total {r['total_seconds']} s")
