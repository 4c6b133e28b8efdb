"""The dashboard: a read-only web face over ``insights`` (Starlette + Jinja2, served by uvicorn).

``app.create_app(...)`` builds the ASGI app; ``server.serve(...)`` binds and serves it. Pages and
their JSON twins under ``/api/...`` are listed in ``views.PAGES``; charts are SVG drawn on the
server (``charts.py``), so the pages work offline and run no third-party script. docs/dashboard.md.
"""
