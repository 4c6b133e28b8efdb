"""End the rate-limit pause (``spotify-pipeline pause clear``)."""

from __future__ import annotations

from datetime import timedelta

from ..errors import PipelineError
from ..settings import Settings
from ..spotify.pause import clear_pause as clear
from ..warehouse.state import WAREHOUSE_ERRORS, WarehouseStateStore, describe_outage
from .runtime import Runtime


def clear_pause(settings: Settings, *, runtime: Runtime | None = None) -> dict[str, str] | None:
    """End the recorded pause; returns what it was (until, reason, kind), None when none was in force."""

    rt = Runtime.resolve(settings, runtime)
    max_pause = timedelta(seconds=settings.max_pause_seconds)
    try:
        # The warehouse's store itself, not a run's outage-tolerant view: clearing must really happen.
        cleared = clear(WarehouseStateStore(rt.engine), rt.clock.now(), max_pause)
    except WAREHOUSE_ERRORS as exc:
        raise PipelineError(
            f"the warehouse is unreachable ({describe_outage(exc)}): the pause is recorded there, so it "
            "cannot be cleared now (while the warehouse is down, runs cannot see it anyway)"
        ) from None
    return cleared.to_dict() if cleared else None
