"""Listener profiles: the names the CLI offers (``Profile``) and the numbers the model draws from.

Kept apart from ``model.py`` so that naming a profile (a CLI option) loads no model and no catalog.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Profile(StrEnum):
    """A listener's habits: how much, how, and how bursty they play (``SPECS`` has the numbers)."""

    LIGHT = "light"
    TYPICAL = "typical"
    HEAVY = "heavy"
    BINGE = "binge"


PROFILES = tuple(p.value for p in Profile)


@dataclass(frozen=True)
class ProfileSpec:
    """The numbers behind a profile (ranges are inclusive; chances are per the unit named)."""

    daily_plays: tuple[int, int]  # music plays outside binge bursts
    session_plays: tuple[int, int]  # plays per ordinary music session
    skip_rate: float
    commute_chance: float  # per weekday and commute leg
    podcast_chance: float  # per day
    audiobook_chance: float  # per day
    private_chance: float  # per session
    binge_chance: float  # per day
    favourite_artists: int
    initial_follows: tuple[int, int]
    follow_chance: float  # per day
    unfollow_chance: float  # per day


SPECS: dict[str, ProfileSpec] = {
    "light": ProfileSpec((3, 7), (2, 4), 0.15, 0.0, 0.08, 0.02, 0.03, 0.0, 15, (5, 15), 0.15, 0.06),
    "typical": ProfileSpec((24, 40), (6, 14), 0.22, 0.5, 0.25, 0.06, 0.04, 0.0, 40, (20, 60), 0.4, 0.15),
    "heavy": ProfileSpec((80, 112), (12, 24), 0.25, 0.6, 0.2, 0.05, 0.04, 0.0, 80, (50, 150), 0.6, 0.25),
    "binge": ProfileSpec((20, 36), (6, 14), 0.35, 0.4, 0.1, 0.02, 0.03, 0.7, 50, (30, 80), 0.5, 0.2),
}

__all__ = ["PROFILES", "SPECS", "Profile", "ProfileSpec"]
