"""How a long job tells its caller how far it is: a callback, so jobs know nothing of terminals.

``progress(done, total, description)``: ``done`` and ``total`` count the job's own units (records,
objects, files: the description names them), ``total`` is None while unknown. The CLI draws a bar
from it (``cli/progress.py``); Airflow and tests pass nothing.
"""

from __future__ import annotations

from collections.abc import Callable

ProgressFn = Callable[[int, "int | None", "str | None"], None]


def no_progress(done: int, total: int | None = None, description: str | None = None) -> None:
    """The default: report nothing."""
