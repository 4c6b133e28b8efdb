"""What this Spotify app may call, learned from 403s and remembered per client id.

Development-mode apps (every self-hosted user's) lost the batch catalog endpoints and audio
features in 2024–2026: Spotify answers 403. That is a property of the app, not of the request,
so retrying it every day is pointless. The first 403 is stored under ``capabilities:<client_id>``
and from then on the client goes straight to the per-id path (or reports "unavailable").

A denial is probed again after ``RECHECK_AFTER``: an app that is moved to extended quota gets its
batch endpoints back without anyone having to clear state by hand.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from .state import StateStore

log = logging.getLogger(__name__)

RECHECK_AFTER = timedelta(days=30)

# Capability names; the endpoint each one guards.
ARTISTS_BATCH = "artists_batch"  # GET /v1/artists?ids=
ALBUMS_BATCH = "albums_batch"  # GET /v1/albums?ids=
TRACKS_BATCH = "tracks_batch"  # GET /v1/tracks?ids=
AUDIO_FEATURES = "audio_features"  # GET /v1/audio-features?ids=
KNOWN = frozenset({ARTISTS_BATCH, ALBUMS_BATCH, TRACKS_BATCH, AUDIO_FEATURES})


def state_key(client_id: str) -> str:
    return f"capabilities:{client_id}"


class Capabilities:
    """Read-through view of the stored denials for one app."""

    def __init__(self, state: StateStore, client_id: str) -> None:
        self._state = state
        self._key = state_key(client_id)
        self.client_id = client_id

    def _denied(self) -> dict[str, Any]:
        stored = self._state.get(self._key) or {}
        denied = stored.get("denied", {})
        return denied if isinstance(denied, dict) else {}

    def allowed(self, name: str, now: datetime) -> bool:
        """False while a remembered denial is younger than RECHECK_AFTER."""
        entry = self._denied().get(name)
        if not isinstance(entry, dict):
            return True
        try:
            since = datetime.fromisoformat(str(entry["since"]))
        except (KeyError, ValueError):
            return False  # unreadable entry: keep trusting the denial rather than hammering
        return now - since >= RECHECK_AFTER

    def deny(self, name: str, now: datetime, status: int, message: str) -> None:
        if name not in KNOWN:
            raise ValueError(f"unknown capability {name!r}")
        stored = self._state.get(self._key) or {}
        denied = stored.get("denied") if isinstance(stored.get("denied"), dict) else {}
        assert isinstance(denied, dict)
        denied[name] = {"since": now.isoformat(), "status": status, "message": message}
        stored["denied"] = denied
        self._state.set(self._key, stored)
        log.info(
            "Spotify app %s may not use %s (HTTP %s %s); using the fallback from now on",
            self.client_id,
            name,
            status,
            message,
        )

    def grant(self, name: str) -> None:
        """Forget a denial (a re-probe succeeded)."""
        stored = self._state.get(self._key)
        if not stored or name not in stored.get("denied", {}):
            return
        del stored["denied"][name]
        self._state.set(self._key, stored)
        log.info("Spotify app %s may use %s again", self.client_id, name)

    def denied_names(self) -> list[str]:
        return sorted(self._denied())
