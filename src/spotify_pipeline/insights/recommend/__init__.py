"""Recommendations from the user's own history (rediscover, similar) and new releases of their
artists: read-only on the warehouse. See docs/recommendations.md."""

from __future__ import annotations

from .lists import KINDS, Recommendation, UnknownSeed, all_lists, lists_for, recommend

__all__ = ["KINDS", "Recommendation", "UnknownSeed", "all_lists", "lists_for", "recommend"]
