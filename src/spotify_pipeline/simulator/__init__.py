"""A faithful local stand-in for Spotify's accounts service and Web API (late 2026).

    from spotify_pipeline.simulator import Simulator, SimulatorConfig
    sim = Simulator(SimulatorConfig(seed=7, mode="development"), clock=ManualClock(start))
    sim.add_user("alice", profile="typical")
    tokens = sim.grant("alice")                    # consent without a browser
    client = httpx.Client(transport=sim.transport())  # serves https://accounts.spotify.com, https://api.spotify.com
    sim.faults.add(path_prefix="/v1/me/player/recently-played", kind="status", status=503, count=3)
    sim.truth("alice", start, end); sim.calls

Or on a socket: ``with serve(sim) as info: ...`` (``info.api_url`` = http://127.0.0.1:PORT/v1).
"""

import importlib
from typing import TYPE_CHECKING, Any

from .profiles import PROFILES, Profile

if TYPE_CHECKING:
    from .app import DEFAULT_REDIRECT_URI, DEFAULT_SCOPES, Simulator, SimulatorTransport
    from .faults import KINDS as FAULT_KINDS
    from .faults import Fault, FaultPlan
    from .server import ServerInfo, serve, serve_forever_cli
    from .state import App, CallRecord, SimulatorConfig

ACCOUNTS_URL = "https://accounts.spotify.com"
API_URL = "https://api.spotify.com/v1"

# The server side (werkzeug and the whole Web API) loads on first use, so that the CLI, which
# names the profiles in its options, starts without it.
_LAZY = {
    "DEFAULT_REDIRECT_URI": ("app", "DEFAULT_REDIRECT_URI"),
    "DEFAULT_SCOPES": ("app", "DEFAULT_SCOPES"),
    "Simulator": ("app", "Simulator"),
    "SimulatorTransport": ("app", "SimulatorTransport"),
    "FAULT_KINDS": ("faults", "KINDS"),
    "Fault": ("faults", "Fault"),
    "FaultPlan": ("faults", "FaultPlan"),
    "ServerInfo": ("server", "ServerInfo"),
    "serve": ("server", "serve"),
    "serve_forever_cli": ("server", "serve_forever_cli"),
    "App": ("state", "App"),
    "CallRecord": ("state", "CallRecord"),
    "SimulatorConfig": ("state", "SimulatorConfig"),
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, attr = _LAZY[name]
    value = getattr(importlib.import_module(f".{module}", __name__), attr)
    globals()[name] = value  # once loaded, a plain attribute
    return value


__all__ = [
    "ACCOUNTS_URL",
    "API_URL",
    "App",
    "CallRecord",
    "DEFAULT_REDIRECT_URI",
    "DEFAULT_SCOPES",
    "FAULT_KINDS",
    "Fault",
    "FaultPlan",
    "PROFILES",
    "Profile",
    "ServerInfo",
    "Simulator",
    "SimulatorConfig",
    "SimulatorTransport",
    "serve",
    "serve_forever_cli",
]
