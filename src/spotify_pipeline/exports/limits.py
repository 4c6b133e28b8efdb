"""Every bound the export reader and parser enforce, in one place (docs/import-history.md, "Limits").

A value outside these bounds makes its record *malformed* (counted, named with its file, index and
reason) or its file *unreadable*; it never reaches the warehouse, where it would fail the batch's
transaction on every retry (MariaDB refuses a string longer than its column) or store a value the
two engines keep differently. The text bounds are at most the warehouse columns' widths
(``warehouse/schema.py``; ``tests/exports/test_limits.py`` checks it), so a record that passes
always fits, whichever engine, and whether a column is later widened or made TEXT.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ..errors import PipelineError
from ..transform.fields import TEXT_CHARS

# --- values of a record ---------------------------------------------------------------------------

#: No stream ended before this: Spotify was founded in 2006 (the service opened in October 2008).
EARLIEST_PLAY = datetime(2006, 1, 1, tzinfo=UTC)
#: How far past the importing machine's clock a stream may end (clock skew between the phone that
#: logged it and this host); beyond it the time is broken, not skewed.
FUTURE_MARGIN = timedelta(days=1)
#: Longest single stream kept: 7 days of playing time. Real streams are minutes to hours (a long
#: audiobook chapter or live set); 7 days is far past any of them and below 2**31 ms, so SQLite and
#: MariaDB store the same number whatever the column type (the issue's example was 1e14).
MAX_MS_PLAYED = 7 * 24 * 3600 * 1000

#: Characters kept per text field, by ExportRecord field: the width of the column it lands in.
# Names are long text in the warehouse (as on the API path, a long classical title is kept whole);
# a record is also bounded by MAX_RECORD_CHARS below.
MAX_NAME_CHARS = TEXT_CHARS  # track_name, artist_name, album_name (plays.*_name)
MAX_TEXT_CHARS: dict[str, int] = {
    "track_name": MAX_NAME_CHARS,
    "artist_name": MAX_NAME_CHARS,
    "album_name": MAX_NAME_CHARS,
    "platform": 255,  # plays.platform
    "country": 8,  # plays.country (ISO 3166 codes are 2)
    "reason_start": 64,  # plays.reason_start
    "reason_end": 64,  # plays.reason_end
}

# --- files and records as text ---------------------------------------------------------------------

#: Text read from a file at a time.
CHUNK_CHARS = 1 << 20
#: Largest record (its JSON text). A streaming-history record is under 2 KB; a larger one is skipped as
#: malformed without being held in memory (a 1 GB JSON string costs one chunk, not 1 GB).
MAX_RECORD_CHARS = 4 * CHUNK_CHARS
#: Largest export file (a file on disk or a zip member, uncompressed). Spotify's files are at most
#: ~13 MB (10x margin); a larger one is refused as unreadable before a byte of it is read or archived
#: (the archive copy streams; ``check_file_size`` also stops it when a zip header understates a size).
MAX_FILE_BYTES = 128 * 1024 * 1024
#: Largest compression ratio of a zip member (uncompressed / compressed size). Spotify's JSON packs
#: 5-15x; a zip bomb packs 1000x and more. Members under ``RATIO_FLOOR_BYTES`` are never refused for
#: their ratio (a small file of spaces packs well and costs nothing).
MAX_COMPRESSION_RATIO = 100
RATIO_FLOOR_BYTES = 1024 * 1024


class ExportTooLarge(PipelineError):
    """An export file over ``MAX_FILE_BYTES`` found while copying it (a header that understated it)."""


def _mib(n: int) -> str:
    return f"{n / (1024 * 1024):,.1f} MiB"


def check_file_size(name: str, size: int) -> None:
    """Refuse a file of ``size`` bytes (declared or counted so far) over ``MAX_FILE_BYTES``."""
    if size > MAX_FILE_BYTES:
        raise ExportTooLarge(
            f"{name}: {_mib(size)} or more, larger than any Spotify export file (at most ~15 MiB; "
            f"the limit is {_mib(MAX_FILE_BYTES)}): this is not a streaming history from Spotify. "
            "Remove it from what you import and run again; nothing was imported"
        )
