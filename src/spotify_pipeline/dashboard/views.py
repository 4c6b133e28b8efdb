"""What each page shows, as JSON-safe dicts built from ``insights`` only (no SQL here).

Every page's numbers are a slice of ``Insights.summary(n).as_dict()`` (what ``stats --json``
prints) under the same keys, so ``/api/<page>`` equals ``stats --json`` key for key; ``/health``
is ``insights.health`` as is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..insights.health import health
from ..insights.period import InsightsError, Period, parse_day, resolve_period
from ..insights.recommend.cache import ListsCache
from ..insights.source import Warehouse
from ..insights.stats import Insights, users
from ..spotify.tokens import TokenStore

ALL_USERS = "*"


@dataclass(frozen=True)
class Page:
    path: str  # stable URL of the page; its JSON is at /api<path> (/api/overview for /)
    name: str  # the template and the API name
    title: str


# The navigation, in order. A page added later (recommendations) takes its place here.
PAGES: tuple[Page, ...] = (
    Page("/", "overview", "Overview"),
    Page("/top", "top", "Top"),
    Page("/clock", "clock", "Clock"),
    Page("/timeline", "timeline", "Timeline"),
    Page("/discoveries", "discoveries", "Discoveries"),
    Page("/following", "following", "Following"),
    Page("/health", "health", "Health"),
    Page("/recommendations", "recommendations", "Recommendations"),
)


@dataclass(frozen=True)
class Query:
    """A page's parameters, checked: the user (None: every user), the period, the top list length."""

    user: str | None
    period: Period
    top: int
    choice: str  # the user as the selector shows it ("*" for every user)


@dataclass(frozen=True)
class Source:
    """What the app reads: the warehouse, the listener's time zone, the default user, the token
    store (for the token countdown; only day counts are read from it, never a token)."""

    engine: Warehouse
    timezone: str
    default_user: str | None
    token_store: TokenStore | None
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    default_period: str = "month"  # for a page asked without ?period= or dates
    # The recommendation lists kept per listener; None: create_app makes one.
    recommendations: ListsCache | None = None

    def users(self) -> list[str]:
        return users(self.engine)


def parse_query(src: Source, params: dict[str, str], known_users: list[str]) -> Query:
    """The page parameters from a query string: ``period`` (day, week, month, year, all; default
    ``src.default_period``) or ``from``/``to`` (YYYY-MM-DD), ``user`` (a name or ``*``), ``top`` (1..100).
    InsightsError (one line) for anything else."""
    first, last = parse_day(params.get("from"), "from"), parse_day(params.get("to"), "to")
    name: str | None = params.get("period") or src.default_period
    if first or last:
        name = None
    period = resolve_period(name, timezone=src.timezone, now=src.now(), first=first, last=last)
    choice = params.get("user") or (
        src.default_user if src.default_user in known_users else (known_users[0] if known_users else "*")
    )
    user = None if choice == ALL_USERS else choice
    if user is not None and user not in known_users:
        raise InsightsError(
            f"unknown user {user!r}: the warehouse holds {', '.join(known_users) or 'no user yet'}"
        )
    try:
        top = int(params.get("top") or 10)
    except ValueError:
        raise InsightsError(f"top {params.get('top')!r} is not a number: give 1 to 100") from None
    if not 1 <= top <= 100:
        raise InsightsError(f"top {top} is out of range: give 1 to 100")
    return Query(user, period, top, choice)


def page_data(src: Source, page: str, query: Query) -> dict[str, Any]:
    """The numbers of ``page`` for ``query``: the keys of ``stats --json`` it shows, plus ``user``
    and ``period`` (``health``: the health report)."""
    if page == "health":
        return health(src.engine, query.user, query.period, src.now(), src.token_store).as_dict()
    if page == "summary":
        return Insights(src.engine, query.user, query.period, now=src.now()).summary(query.top).as_dict()
    ins = Insights(src.engine, query.user, query.period, now=src.now())
    out: dict[str, Any] = {"user": query.user, "period": query.period.as_dict()}
    if page == "overview":
        out |= {"totals": ins.totals().as_dict(), "streaks": ins.streaks().as_dict(),
                "skips": ins.skips().as_dict(), "top_artists": ins.top("artists", query.top).as_dict()}  # fmt: skip
    elif page == "top":
        out |= {f"top_{kind}": ins.top(kind, query.top).as_dict() for kind in ("artists", "tracks", "albums")}
    elif page == "clock":
        out["clock"] = ins.clock().as_dict()
    elif page == "timeline":
        out["minutes_per_day"] = [d.as_dict() for d in ins.minutes_per_day()]
    elif page == "discoveries":
        out["discoveries"] = [m.as_dict() for m in ins.discoveries()]
    elif page == "following":
        out["following"] = ins.following().as_dict()
    elif page == "recommendations":
        out["recommendations"], as_of = _recommendations(src, query)
        out["recommendations_as_of"] = as_of.isoformat()
    else:
        raise KeyError(page)
    return out


def _recommendations(src: Source, query: Query) -> tuple[dict[str, list[dict[str, Any]]], datetime]:
    """The three lists ``recommend --json`` gives, from every play before the moment they are for
    (the period does not narrow them: a list needs the whole history), and that moment; per
    listener, so every user together is refused."""
    if query.user is None:
        raise InsightsError("recommendations are per listener: choose one in the listener selector")
    assert src.recommendations is not None, "create_app gives every Source its cache"
    served = src.recommendations.get(query.user, src.now(), query.top)
    return {kind: [item.to_dict() for item in items] for kind, items in served.lists.items()}, served.as_of


API_PAGES = tuple(p.name for p in PAGES) + ("summary",)
