"""Charts as SVG drawn on the server: no chart library, no script, nothing from a CDN.

Every text that reaches the SVG (names from Spotify included) goes through ``escape``; colours
are presentation attributes, not inline styles, so the Content-Security-Policy needs no
``'unsafe-inline'``. Each function returns ``Markup`` for a Jinja2 template.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from markupsafe import Markup, escape

ACCENT = "#1db954"
MUTED = "#2a2f36"
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _svg(width: int, height: int, body: list[str], label: str, cls: str = "chart") -> Markup:
    return Markup(
        f'<svg class="{cls}" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg" '
        f'preserveAspectRatio="xMinYMin meet">{"".join(body)}</svg>'
    )


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 or float(value).is_integer() else f"{value:,.1f}"


def _clip(text: str | None, n: int) -> str:
    text = text or ""
    return text if len(text) <= n else text[: n - 1] + "…"


def bars(rows: Sequence[tuple[str, str | None, float]], label: str, unit: str) -> Markup:
    """Horizontal bars: (name, secondary name or None, value) per row, longest first."""
    if not rows:
        return Markup('<p class="empty">No plays in this period.</p>')
    row_h, name_w, width = 30, 330, 760
    top = max(v for *_, v in rows) or 1
    body = []
    for i, (name, sub, value) in enumerate(rows):
        y = i * row_h
        w = max(2.0, (width - name_w - 80) * value / top)
        shown, shown_sub = _clip(name, 40), _clip(sub, max(8, 44 - len(_clip(name, 40))))
        text = escape(shown) + (
            Markup(' <tspan class="sub">· ') + escape(shown_sub) + Markup("</tspan>") if sub else ""
        )
        full = escape(name) + (Markup(" · ") + escape(sub) if sub else "")
        body.append(
            f'<g><title>{full}: {_fmt(value)} {unit}</title><text x="0" y="{y + 19}" class="label">{text}</text>'
            f'<rect x="{name_w}" y="{y + 6}" width="{w:.1f}" height="{row_h - 12}" rx="3" fill="{ACCENT}"/>'
            f'<text x="{name_w + w + 6:.1f}" y="{y + 19}" class="value">{_fmt(value)}</text></g>'
        )
    return _svg(width, row_h * len(rows), body, label)


def _shade(value: float, top: float) -> str:
    """A green of ``value / top`` intensity over the dark background (0 is the empty cell)."""
    if value <= 0 or top <= 0:
        return MUTED
    t = 0.18 + 0.82 * (value / top) ** 0.6
    r, g, b = (round(a + (c - a) * t) for a, c in zip((42, 47, 54), (29, 185, 84), strict=True))
    return f"#{r:02x}{g:02x}{b:02x}"


def heatmap(grid: Sequence[Sequence[float]], label: str, unit: str) -> Markup:
    """Weekday (rows, Monday first) by hour (columns 0..23)."""
    cell, left, head = 30, 44, 22
    top = max((v for row in grid for v in row), default=0)
    body = [f'<text x="{left + h * cell + cell / 2}" y="14" class="axis" text-anchor="middle">{h}</text>'
            for h in range(24)]  # fmt: skip
    for wd, row in enumerate(grid):
        y = head + wd * cell
        body.append(f'<text x="0" y="{y + 19}" class="axis">{WEEKDAYS[wd]}</text>')
        for h, v in enumerate(row):
            body.append(
                f'<rect x="{left + h * cell}" y="{y}" width="{cell - 3}" height="{cell - 3}" rx="3" '
                f'fill="{_shade(v, top)}"><title>{WEEKDAYS[wd]} {h:02d}:00–{h:02d}:59: {_fmt(v)} {unit}</title></rect>'
            )
    return _svg(left + 24 * cell, head + 7 * cell, body, label, "chart heatmap")


def timeline(days: Sequence[tuple[date, float]], label: str) -> Markup:
    """Minutes per day as columns filling 1,150 units; the page's script zooms it (viewBox, not
    proportional: hence no text inside, the dates are in the tooltips and under the chart)."""
    if not days:
        return Markup('<p class="empty">No plays in this period.</p>')
    width, base = 1150, 250
    col = width / len(days)
    gap = col * 0.15 if col >= 3 else 0
    top = max(v for _, v in days) or 1
    body = []
    for i, (d, v) in enumerate(days):
        h = (base - 8) * v / top
        body.append(
            f'<rect x="{i * col:.2f}" y="{base - h:.1f}" width="{col - gap:.2f}" height="{h:.1f}" '
            f'fill="{ACCENT}"><title>{d.isoformat()}: {_fmt(v)} minutes</title></rect>'
        )
    return Markup(
        f'<svg id="timeline" class="chart timeline" viewBox="0 0 {width} {base}" data-width="{width}" '
        f'width="100%" height="{base}" preserveAspectRatio="none" role="img" aria-label="{escape(label)}" '
        f'xmlns="http://www.w3.org/2000/svg">{"".join(body)}</svg>'
    )


def month_columns(months: Sequence[tuple[str, float, float]], label: str) -> Markup:
    """Two columns per month (new tracks, new artists)."""
    if not months:
        return Markup('<p class="empty">No discoveries in this period.</p>')
    group, height, base = 44, 240, 210
    top = max(max(t, a) for _, t, a in months) or 1
    body = [f'<line x1="0" y1="{base}" x2="{len(months) * group}" y2="{base}" class="baseline"/>']
    for i, (month, tracks, artists) in enumerate(months):
        x = i * group + 4
        for j, (value, fill, what) in enumerate(
            ((tracks, ACCENT, "new tracks"), (artists, "#4ea1ff", "new artists"))
        ):
            h = (base - 12) * value / top
            body.append(
                f'<rect x="{x + j * 17}" y="{base - h:.1f}" width="15" height="{h:.1f}" fill="{fill}">'
                f"<title>{escape(month)}: {_fmt(value)} {what}</title></rect>"
            )
        body.append(f'<text x="{x}" y="{height - 12}" class="axis tick">{escape(month)}</text>')
    return _svg(max(len(months) * group, 200), height, body, label)


def calendar(days: Sequence[tuple[date, float, str]], label: str) -> Markup:
    """A cell per day, weeks as columns (Monday on top); (day, intensity 0..1, tooltip) per day."""
    if not days:
        return Markup('<p class="empty">No plays in this period.</p>')
    cell, left, head = 18, 30, 16
    first = days[0][0] - timedelta(days=days[0][0].weekday())
    by_day = {d: (v, tip) for d, v, tip in days}
    weeks = (days[-1][0] - first).days // 7 + 1
    body = [
        f'<text x="0" y="{head + i * cell + 11}" class="axis small">{WEEKDAYS[i][:1]}</text>'
        for i in (0, 2, 4)
    ]
    d, last_month = first, None
    while d <= days[-1][0]:
        w = (d - first).days // 7
        if d.weekday() == 0 and d.strftime("%b") != last_month:
            last_month = d.strftime("%b")
            body.append(f'<text x="{left + w * cell}" y="11" class="axis small">{d.strftime("%b")}</text>')
        if d in by_day:
            v, tip = by_day[d]
            body.append(
                f'<rect x="{left + w * cell}" y="{head + d.weekday() * cell}" width="{cell - 2}" '
                f'height="{cell - 2}" rx="2" fill="{_shade(v, 1.0)}"><title>{escape(tip)}</title></rect>'
            )
        d += timedelta(days=1)
    return _svg(left + weeks * cell + 4, head + 7 * cell, body, label, "chart calendar")
