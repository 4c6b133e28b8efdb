"""The rebuild's staging area on every engine: one rebuild at a time, and the lock ends with it."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect

from spotify_pipeline.errors import PipelineError
from spotify_pipeline.warehouse.engine import make_engine, upgrade
from spotify_pipeline.warehouse.staging import staged


def test_a_second_rebuild_at_once_is_refused_and_the_lock_ends_with_the_first(warehouse_url: str) -> None:
    target = make_engine(warehouse_url)
    upgrade(target)
    target.dispose()
    with staged(warehouse_url) as first:
        with pytest.raises(PipelineError, match=r"another rebuild of .+ is running; wait for it"):
            with staged(warehouse_url):
                pass
        # The refused one removed nothing of the first's: its staging warehouse is whole.
        assert "plays" in inspect(first.engine).get_table_names()
    with staged(warehouse_url) as second:  # the first's lock was released with it
        assert "plays" in inspect(second.engine).get_table_names()
