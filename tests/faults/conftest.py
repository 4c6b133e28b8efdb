"""Fault tests read what the pipeline logged: make sure an earlier test's logging setup (a
``dictConfig`` that disables existing loggers, a logger set not to propagate) cannot hide it."""

from __future__ import annotations

import logging

import pytest


@pytest.fixture(autouse=True)
def _pipeline_logs_reach_caplog(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [
        "spotify_pipeline",
        *[n for n in logging.root.manager.loggerDict if n.startswith("spotify_pipeline.")],
    ]:
        logger = logging.getLogger(name)
        monkeypatch.setattr(logger, "disabled", False)
        monkeypatch.setattr(logger, "propagate", True)
        if name == "spotify_pipeline":
            monkeypatch.setattr(logger, "level", logging.NOTSET)
