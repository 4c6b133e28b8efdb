"""The ASGI app: HTML pages and their JSON twins, read-only over ``insights``.

Starlette (routing, static files, responses) + Jinja2 (templates, autoescaped: a name from
Spotify is always text) served by uvicorn. Why these: small, typed, no ORM or form layer this
read-only app would not use, and async-capable without needing it (the queries run in the
threadpool Starlette gives sync endpoints). docs/dashboard.md.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..insights.period import PERIODS, InsightsError
from ..insights.recommend.cache import ListsCache
from ..redact import redact
from .pages import page_charts
from .views import ALL_USERS, API_PAGES, PAGES, Source, page_data, parse_query

HERE = Path(__file__).parent
log = logging.getLogger(__name__)

# No inline script or style anywhere: scripts and styles come from /static only.
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "cache-control": "no-store",
}


class SecurityHeaders:
    """Adds ``SECURITY_HEADERS`` to every response (pages, API, static files, errors)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                for k, v in SECURITY_HEADERS.items():
                    if k.encode() not in present:
                        headers.append((k.encode(), v.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _templates() -> Jinja2Templates:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["n"] = lambda v: f"{v:,}" if isinstance(v, int) else f"{v:,.1f}"
    return Jinja2Templates(env=env)


def _problem(exc: Exception) -> tuple[int, str]:
    """The status and the one line to show for a failed read (never a traceback or a secret)."""
    if isinstance(exc, InsightsError):
        return 400, str(exc)
    log.warning("dashboard read failed: %s", redact(f"{type(exc).__name__}: {exc}"))
    first = str(exc).splitlines()[0] if str(exc) else ""
    return 503, redact(f"cannot read the warehouse: {type(exc).__name__}: {first}")


def create_app(src: Source) -> Starlette:
    """The app of ``src``'s pages. Without a cache of recommendation lists one is made, and every
    listener's lists start computing in the background now, so the page has them when opened."""
    if src.recommendations is None:
        cache = ListsCache(src.engine)
        src = replace(src, recommendations=cache)
        try:
            cache.warm(src.users(), src.now())
        except Exception as exc:  # an unreadable warehouse: each page says so
            log.warning("recommendations not computed ahead: %s", redact(str(exc)))
    templates = _templates()

    def read(request: Request, page: str) -> tuple[Any, dict[str, Any], list[str]]:
        known = src.users()
        query = parse_query(src, dict(request.query_params), known)
        return query, page_data(src, page, query), known

    def html(page: str, title: str) -> Any:
        def endpoint(request: Request) -> Response:
            context: dict[str, Any] = {"pages": PAGES, "page": page, "title": title, "periods": PERIODS,
                                       "all_users": ALL_USERS, "params": dict(request.query_params)}  # fmt: skip
            try:
                query, data, known = read(request, page)
            except Exception as exc:  # one line on the page, the status says what kind
                status, message = _problem(exc)
                context |= {"error": message, "users": [], "query": None}
                return templates.TemplateResponse(request, "error.html", context, status_code=status)
            context |= {"query": query, "data": data, "users": known, "charts": page_charts(page, data)}
            return templates.TemplateResponse(request, f"{page}.html", context)

        return endpoint

    def api(page: str) -> Any:
        def endpoint(request: Request) -> Response:
            try:
                _, data, _ = read(request, page)
            except Exception as exc:
                status, message = _problem(exc)
                return JSONResponse({"error": message}, status_code=status)
            return JSONResponse(data)

        return endpoint

    def api_users(request: Request) -> Response:
        return JSONResponse({"users": src.users(), "default": src.default_user})

    def not_found(request: Request, exc: Exception) -> Response:
        return HTMLResponse("<!doctype html><title>Not found</title><p>Not found.</p>", status_code=404)

    routes: list[Any] = [Route(p.path, html(p.name, p.title), name=p.name) for p in PAGES]
    routes += [Route(f"/api/{name}", api(name)) for name in API_PAGES]
    routes += [
        Route("/api/users", api_users),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={404: not_found})
    app.add_middleware(SecurityHeaders)
    return app
