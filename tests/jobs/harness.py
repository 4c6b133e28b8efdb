"""A simulated world for job tests: simulator + manual clock + settings + runtime."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from spotify_pipeline.clock import ManualClock, to_ms
from spotify_pipeline.jobs.runtime import Runtime
from spotify_pipeline.settings import Settings, load_settings
from spotify_pipeline.simulator import Simulator, SimulatorConfig
from spotify_pipeline.spotify.auth import token_from_grant
from spotify_pipeline.spotify.tokens import FileTokenStore

START = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)


@dataclass
class World:
    sim: Simulator
    clock: ManualClock
    settings: Settings
    runtime: Runtime

    def fresh_runtime(self) -> Runtime:
        """A new process, as the next cron or Airflow run would be: nothing cached but the stores."""
        rt = Runtime(
            self.settings,
            clock=self.clock,
            transport=self.sim.transport(),
            token_store_override=FileTokenStore(self.settings.token_file),
        )
        rt.sleep = lambda s: self.clock.advance(s)
        return rt

    def poll_times(self, days: float, every_minutes: int) -> Iterator[datetime]:
        t = self.clock.now()
        end = START + timedelta(days=days)
        while t + timedelta(minutes=every_minutes) <= end:
            t += timedelta(minutes=every_minutes)
            self.clock.set(t)
            yield t

    def true_keys(self, end: datetime | None = None) -> set[tuple[int, str]]:
        end = end or self.clock.now()
        return {
            (to_ms(p.ended_at), p.track_id) for p in self.sim.reachable_truth(self.settings.user, START, end)
        }


def make_world(
    tmp_path: Path,
    *,
    profile: str = "typical",
    warehouse_url: str | None = None,
    raw_zone: str | None = None,
    s3_endpoint_url: str | None = None,
    late_share: float = 0.0,
    mode: str = "development",
    seed: int = 11,
    user: str = "alice",
    structured_taste: bool = False,
) -> World:
    clock = ManualClock(START)
    config = SimulatorConfig(seed=seed, late_share=late_share, mode=mode, structured_taste=structured_taste)
    sim = Simulator(config, clock=clock)
    sim.add_user(user, profile=profile, since=START)
    app = sim.default_app
    settings = load_settings(
        raw_zone=raw_zone or str(tmp_path / "raw"),
        warehouse_url=warehouse_url or f"sqlite:///{tmp_path / 'warehouse.db'}",
        s3_endpoint_url=s3_endpoint_url,
        user=user,
        client_id=app.client_id,
        token_file=tmp_path / "tokens.json",
        backoff_base_seconds=0.01,
    )
    store = FileTokenStore(settings.token_file)
    store.save(token_from_grant(sim.grant(user, pkce=True), client_id=app.client_id, now=clock.now()))
    world = World(sim, clock, settings, None)  # type: ignore[arg-type]
    world.runtime = world.fresh_runtime()
    return world
