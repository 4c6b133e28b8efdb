"""The charts and tables of each page, from the page's JSON (``views.page_data``)."""

from __future__ import annotations

from datetime import date
from typing import Any

from markupsafe import Markup

from . import charts


def _top(items: list[dict[str, Any]], key: str) -> list[tuple[str, str | None, float]]:
    return [(i["name"], i["artist"], i[key]) for i in items]


def page_charts(page: str, data: dict[str, Any]) -> dict[str, Markup]:
    """Named SVG charts for ``page``; the template places them."""
    if page == "overview":
        return {
            "artists": charts.bars(
                _top(data["top_artists"]["by_plays"], "plays"), "Top artists by plays", "plays"
            )
        }
    if page == "top":
        return {
            f"{kind}_{order}": charts.bars(
                _top(data[f"top_{kind}"][f"by_{order}"], order), f"Top {kind} by {order}", order
            )
            for kind in ("artists", "tracks", "albums")
            for order in ("plays", "minutes")
        }
    if page == "clock":
        return {
            "plays": charts.heatmap(data["clock"]["plays"], "Plays by weekday and hour", "plays"),
            "minutes": charts.heatmap(data["clock"]["minutes"], "Minutes by weekday and hour", "minutes"),
        }
    if page == "timeline":
        days = [(date.fromisoformat(d["day"]), d["minutes"]) for d in data["minutes_per_day"]]
        return {"days": charts.timeline(days, "Minutes listened per day")}
    if page == "discoveries":
        months = [(m["month"], m["new_tracks"], m["new_artists"]) for m in data["discoveries"]]
        return {"months": charts.month_columns(months, "New tracks and artists per month")}
    if page == "recommendations":
        return {
            kind: charts.bars(
                [(i["track_name"] or "?", i["artist_name"], i["score"]) for i in items],
                f"{kind} by score",
                "score",
            )
            for kind, items in data["recommendations"].items()
        }
    if page == "health":
        return {"coverage": charts.calendar(_coverage_cells(data["coverage"]), "Plays captured per day")}
    return {}


def _coverage_cells(days: list[dict[str, Any]]) -> list[tuple[date, float, str]]:
    """One cell per UTC day: intensity = plays on the day (relative to the busiest); the tooltip
    says how many the API caught, how many only an export had, and the capture rate."""
    top = max((d["api_plays"] + d["export_only"] for d in days), default=0) or 1
    cells = []
    for d in days:
        rate = "no export covers it" if d["capture_rate"] is None else f"capture {d['capture_rate']:.0%}"
        tip = (f"{d['day']}: {d['api_plays']} from the API, {d['export_only']} only in an export "
               f"({rate})")  # fmt: skip
        cells.append((date.fromisoformat(d["day"]), (d["api_plays"] + d["export_only"]) / top, tip))
    return cells
