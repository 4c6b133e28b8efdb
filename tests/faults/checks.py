"""The three checks every fault scenario ends with, and a cron-like runner that records what the
user was told.

1. every true play the API exposed in the window (``sim.reachable_truth``) is in the warehouse;
2. none twice: every stored play is one of those true plays, so a play cannot sit in the warehouse
   under two timestamps (the primary key already forbids two rows at one timestamp);
3. the user was told what happened: the text shown (a JobReport's summary and problems, an
   exception's message, ``status`` output) contains the words the scenario expects.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from tests.jobs.harness import World

from spotify_pipeline.clock import to_ms
from spotify_pipeline.errors import PipelineError
from spotify_pipeline.jobs import JobReport, run_all
from spotify_pipeline.jobs.runtime import Runtime
from spotify_pipeline.warehouse import reads


def shown(report: JobReport) -> str:
    """What a user reads for one job: the summary line plus every problem."""
    return "\n".join([report.summary(), *report.problems])


def cron(world: World, runtime: Runtime | None = None) -> list[str]:
    """One `spotify-pipeline run` as cron starts it: a fresh process; a failure ends the run with
    its message on stderr (the next run starts clean). Returns the lines the user sees."""
    rt = runtime or world.fresh_runtime()
    try:
        return [shown(r) for r in run_all(world.settings, runtime=rt, force_enrich=True)]
    except PipelineError as exc:
        return [f"error: {exc}"]


def stored_keys(world: World) -> Counter[tuple[int, str]]:
    with world.runtime.engine.connect() as conn:
        return Counter((to_ms(at), str(track)) for at, track in reads.play_keys(conn, world.settings.user))


def assert_three_checks(world: World, told: Iterable[str], *expected: str) -> None:
    """Nothing lost, nothing doubled, and every ``expected`` phrase was shown (case-insensitive)."""
    truth = world.true_keys()
    stored = stored_keys(world)
    assert truth, "the simulated user made no plays the API could show: the scenario proves nothing"
    lost = truth - set(stored)
    assert not lost, f"{len(lost)} plays the API exposed are not in the warehouse: {sorted(lost)[:5]}"
    extra = set(stored) - truth
    assert not extra, (
        f"{len(extra)} stored plays are no true play (a play stored twice?): {sorted(extra)[:5]}"
    )
    assert max(stored.values()) == 1
    text = "\n".join(told).lower()
    for phrase in expected:
        assert phrase.lower() in text, f"the user was not told {phrase!r}; they saw:\n{text}"
