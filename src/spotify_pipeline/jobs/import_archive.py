"""Export files in the raw zone: the copy an import makes before it reads a file, and the files a
rebuild reads back from it.

Promise 4 says the warehouse can be rebuilt from the raw zone alone, so the export a user imported
must outlive the download folder it came from. ``import_history`` copies every streaming-history file
it recognised to ``imports/<user>/<sha256 of the file>/<file name>`` before it imports anything, and
records the keys in the import run's report; ``rebuild`` replays the import from those keys.

- Content-addressed and write-once: importing the same export twice stores it once, and a key never
  changes its bytes (``RawStore.put_bytes``).
- One file in memory at a time (real exports: files of at most ~13 MB, ~30 to a zip), read from the
  zip member by member; the import then streams the file again from where it came.
- Network identifiers are blanked before the copy is stored: the values of ``ip_addr``,
  ``ip_addr_decrypted``, ``user_agent_decrypted`` and ``username`` become ``null`` (the import never
  keeps them either). Done on the text, so a truncated file is blanked as far as it goes and
  imports exactly as the original would; everything else stays byte for byte as Spotify sent it.
- Only streaming history is copied. ``Userdata.json``, payments, playlists and the like are never read
  past their first record and hold personal data the pipeline has no use for; the import run's
  report still names them, and a replay reports them as the original did.
"""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import IO, Any

from ..errors import ConfigError, StoreError
from ..exports.reader import ExportFile, ExportReadError
from ..exports.report import ArchivedFile
from ..landing.keys import import_key
from ..landing.store import RawStore

_CHUNK = 1 << 20
# "key": "value" (a JSON string, escapes included) for the fields that identify a device or person.
_IDENTIFIERS = re.compile(
    rb'("(?:ip_addr|ip_addr_decrypted|user_agent_decrypted|username)"\s*:\s*)"(?:[^"\\]|\\.)*"'
)


def blank_identifiers(data: bytes) -> bytes:
    """The export file with its IP addresses, user agents and user name replaced by null."""
    return _IDENTIFIERS.sub(rb"\1null", data)


def archive_files(store: RawStore, user: str, files: Sequence[ExportFile]) -> list[ArchivedFile]:
    """Copy each file into the raw zone (a no-op for a file already there); the keys, in order."""
    out: list[ArchivedFile] = []
    for file in files:
        data = blank_identifiers(_read_whole(file))
        sha = hashlib.sha256(data).hexdigest()
        try:
            key = import_key(user, sha, file.name)
        except ValueError as exc:
            raise ConfigError(f"{exc}; set SPOTIFY_PIPELINE_USER to such a name") from None
        store.put_bytes(key, data)
        out.append(ArchivedFile(file.name, key, len(data), sha))
        del data  # before the next file is read: never two files in memory
    return out


def _read_whole(file: ExportFile) -> bytes:
    buf = io.BytesIO()
    try:
        with file.binary() as raw:
            while chunk := raw.read(_CHUNK):
                buf.write(chunk)
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        raise ExportReadError(
            f"{file.name}: could not be read to archive it ({exc}); nothing was imported. Download the "
            "export again"
        ) from None
    return buf.getvalue()  # hands over the buffer without a second copy


@dataclass(frozen=True)
class ArchivedExport:
    """A recorded import as the raw zone holds it: what ``import_history`` needs to run it again."""

    source: str  # as the original import named it, so the replayed report reads the same
    files: list[ArchivedFile]
    ignored: list[str]  # non-JSON files the original listed
    unknown: list[tuple[str, str]]  # JSON files it did not recognise (not archived), with the reason

    @classmethod
    def from_report(cls, report: dict[str, Any]) -> ArchivedExport | None:
        """The archive an import run's report records, or None for an import made before archiving."""
        archived = report.get("archived")
        if archived is None:
            return None
        return cls(
            source=str(report["source"]),
            files=[ArchivedFile.from_dict(a) for a in archived],
            ignored=[str(n) for n in report.get("ignored_files", [])],
            unknown=[(str(u["name"]), str(u["reason"])) for u in report.get("unknown_files", [])],
        )

    def export_files(self, store: RawStore) -> list[ExportFile]:
        """The archived copies as export files under their original names, read back from ``store``."""
        return [ExportFile(a.name, a.size, _opener(store, a)) for a in self.files]


def _opener(store: RawStore, archived: ArchivedFile) -> Callable[[], IO[bytes]]:
    def open_copy() -> IO[bytes]:
        data = store.get(archived.key)
        if data is None:
            raise StoreError(
                f"the archived copy of {archived.name} ({archived.key}) is not in {store.location}; import "
                "the export again with `spotify-pipeline import-history PATH`"
            )
        if hashlib.sha256(data).hexdigest() != archived.sha256:
            raise StoreError(
                f"the archived copy of {archived.name} ({archived.key} in {store.location}) does not match "
                "its sha256: it was changed after the import. Restore it from a backup, or move it aside and "
                "import the export again"
            )
        return io.BytesIO(data)  # shares the bytes, no copy

    return open_copy
