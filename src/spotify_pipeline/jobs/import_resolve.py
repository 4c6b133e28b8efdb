"""Track ids for account-data rows, which carry only names: first from the plays already in the
warehouse, then from the resolver (``SpotifyClient.search_track``), each name pair asked once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Connection

from ..errors import PipelineError
from ..exports.formats import ExportRecord
from ..exports.matching import name_key
from ..exports.report import ImportReport
from ..warehouse.export_plays import track_ids_by_names

Resolver = Callable[[str, str], "str | None"]


@dataclass
class TrackIds:
    report: ImportReport
    resolver: Resolver | None
    # Normalised (artist, track) -> track id of the plays in the warehouse, read at the first need.
    local_ids: dict[tuple[str, str], str] | None = None
    search_cache: dict[tuple[str, str], str | None] = field(default_factory=dict)

    def resolve(self, conn: Connection, rec: ExportRecord) -> str | None:
        """The record's track id, counted in the report by where it came from (or that it did not)."""
        key = name_key(rec.artist_name, rec.track_name)
        if self.local_ids is None:
            self.local_ids = _known_ids(conn, self.report.user_id)
        if key in self.local_ids:
            self.report.account_resolved_locally += 1
            return self.local_ids[key]
        if self.resolver is None or self.report.resolver_stopped:
            self.report.account_unresolved += 1
            return None
        if key not in self.search_cache:
            try:
                self.search_cache[key] = self.resolver(rec.track_name or "", rec.artist_name or "")
            except PipelineError as exc:
                # A rate limit or an outage must not fail the import: the rows keep their names,
                # and a later run (or an enrichment job) can resolve them.
                self.report.resolver_stopped = f"search stopped at {rec.source} #{rec.index}: {exc}"
                self.report.account_unresolved += 1
                return None
        found = self.search_cache[key]
        if found is None:
            self.report.account_unresolved += 1
        else:
            self.report.account_resolved_by_search += 1
        return found


def _known_ids(conn: Connection, user_id: str) -> dict[tuple[str, str], str]:
    """Normalised (artist, track) -> track id, from the plays already in the warehouse: an account
    row of a song the API (or an extended file) already gave needs no search."""
    out: dict[tuple[str, str], str] = {}
    for artist, track, track_id in track_ids_by_names(conn, user_id):
        out.setdefault(name_key(artist, track), track_id)
    return out
