"""Read-only views of the warehouse: what the user's record holds and how complete it is.

The API for the faces (CLI, dashboard), each result a frozen dataclass with ``as_dict()``:

- ``period.resolve_period(...)`` -> ``Period``: a period in the listener's time zone.
- ``source.open_warehouse(url)``: an engine on an existing, current warehouse (never creates one).
- ``stats.Insights(engine, user, period)``: ``totals``, ``top``, ``minutes_per_day``, ``clock``,
  ``discoveries``, ``streaks``, ``skips``, ``following``, ``summary``; ``stats.users(engine)``.
- ``health.health(engine, user, period, now, token_store)``: fetches, gaps, coverage, token, pause.
- ``export.export_plays(engine, scope, format, out)``: the play log as a file.

SQL lives in ``queries.py``, ``rollup_queries.py``, ``sql.py``, ``playlog.py`` and ``coverage.py``
only (docs/stats.md).
"""
