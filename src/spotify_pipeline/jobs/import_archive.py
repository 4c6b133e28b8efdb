"""Export files in the raw zone: the copy an import makes before it reads a file, and the files a
rebuild reads back from it.

Promise 4 says the warehouse can be rebuilt from the raw zone alone, so the export a user imported
must outlive the download folder it came from. ``import_history`` copies every streaming-history file
it recognised to ``imports/<user>/<sha256 of the file>/<file name>`` before it imports anything, and
records the keys in the import run's report; ``rebuild`` replays the import from those keys.

- Content-addressed and write-once: importing the same export twice stores it once, and a key never
  changes its bytes (``RawStore.put_file``).
- Streamed: a file (or zip member) is copied in 1 MiB chunks through a temporary file while it is
  hashed, then stored from that file (``RawStore.put_file``); never whole in memory. Files over
  ``exports.limits.MAX_FILE_BYTES`` and zip members expanding more than
  ``MAX_COMPRESSION_RATIO``-fold are refused with one line naming them (a real file is ~13 MB).
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
import re
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any

from ..errors import ConfigError, StoreError
from ..exports import limits
from ..exports.limits import check_file_size
from ..exports.reader import ExportFile, ExportReadError
from ..exports.report import ArchivedFile
from ..landing.keys import import_key
from ..landing.store import RawStore

_CHUNK = 1 << 20
_IDENTIFIER_KEYS = rb"(?:ip_addr|ip_addr_decrypted|user_agent_decrypted|username)"
# "key": "value" (a JSON string, escapes included) for the fields that identify a device or person.
_IDENTIFIERS = re.compile(rb'("' + _IDENTIFIER_KEYS + rb'"\s*:\s*)"(?:[^"\\]|\\.)*"')
# Such a field cut by the end of a chunk: held back until the next chunk completes it.
_OPEN_AT_END = re.compile(rb'"' + _IDENTIFIER_KEYS + rb'"\s*(?::\s*(?:"(?:[^"\\]|\\.)*\\?)?)?\Z')
_KEY_TAIL = 32  # longer than '"user_agent_decrypted"': a key name cut by the chunk end is held back
_MAX_HOLD = 4 * _CHUNK  # an identifier "value" longer than this is no IP or user agent: not held


def blank_identifiers(data: bytes) -> bytes:
    """The export file with its IP addresses, user agents and user name replaced by null."""
    return _IDENTIFIERS.sub(rb"\1null", data)


def blank_stream(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """``blank_identifiers`` over a file read in chunks: the same bytes out, holding at most a few
    MiB (a field cut by a chunk boundary waits for the next chunk; no match ever spans a cut)."""
    carry = b""
    for chunk in chunks:
        head, carry = _blank_head(carry + chunk)
        if head:
            yield head
    if carry:
        yield blank_identifiers(carry)


def _blank_head(buf: bytes) -> tuple[bytes, bytes]:
    """(the blanked part of ``buf`` that no later byte can change, the rest). One regex pass."""
    matches = list(_IDENTIFIERS.finditer(buf))
    cut = max(0, len(buf) - _KEY_TAIL)
    # A field whose value the next chunk completes starts after the last complete one.
    after = max(matches[-1].end() if matches else 0, len(buf) - _MAX_HOLD)
    unfinished = _OPEN_AT_END.search(buf, after)
    if unfinished is not None:
        cut = min(cut, unfinished.start())
    out: list[bytes] = []
    pos = 0
    for m in matches:
        if m.end() > cut:
            cut = min(cut, m.start())  # never split a field: it waits for the next chunk
            break
        out += (buf[pos : m.start()], m.group(1), b"null")
        pos = m.end()
    out.append(buf[pos:cut])
    return b"".join(out), buf[cut:]


def archive_files(store: RawStore, user: str, files: Sequence[ExportFile]) -> list[ArchivedFile]:
    """Copy each file into the raw zone (a no-op for a file already there); the keys, in order.

    Streamed: each file is blanked chunk by chunk into a temporary file while its sha256 is taken,
    then handed to the store as a stream; memory holds a chunk or two whatever the file's size."""
    out: list[ArchivedFile] = []
    for file in files:
        check_file_size(file.name, file.size)  # the declared size (a zip member's header)
        with tempfile.TemporaryFile(prefix="spotify-pipeline-archive-") as spool:
            size, sha = _blank_into(file, spool)
            try:
                key = import_key(user, sha, file.name)
            except ValueError as exc:
                raise ConfigError(f"{exc}; set SPOTIFY_PIPELINE_USER to such a name") from None
            store.put_file(key, spool)
        out.append(ArchivedFile(file.name, key, size, sha))
    return out


def _blank_into(file: ExportFile, spool: IO[bytes]) -> tuple[int, str]:
    """Write the blanked file to ``spool``; (size, sha256) of what was written."""
    digest, size = hashlib.sha256(), 0
    try:
        with file.binary() as raw:
            for piece in blank_stream(_chunks(raw, file.name)):
                digest.update(piece)
                spool.write(piece)
                size += len(piece)
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        raise ExportReadError(
            f"{file.name}: could not be read to archive it ({exc}); nothing was imported. Download the "
            "export again"
        ) from None
    spool.flush()
    return size, digest.hexdigest()


def _chunks(raw: IO[bytes], name: str) -> Iterator[bytes]:
    read = 0
    while chunk := raw.read(_CHUNK):
        read += len(chunk)
        if read > limits.MAX_FILE_BYTES:  # a header can understate a member's size
            check_file_size(name, read)
        yield chunk


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
    """Streams of the archived copy; the first open checks its sha256 by reading it through once
    (the import opens a file several times: sniff, then records). Never the whole file in memory."""
    checked: list[bool] = []

    def open_copy() -> IO[bytes]:
        if not checked:
            digest = hashlib.sha256()
            with _stream(store, archived) as raw:
                while chunk := raw.read(_CHUNK):
                    digest.update(chunk)
            if digest.hexdigest() != archived.sha256:
                raise StoreError(
                    f"the archived copy of {archived.name} ({archived.key} in {store.location}) does not "
                    "match its sha256: it was changed after the import. Restore it from a backup, or move it "
                    "aside and import the export again"
                )
            checked.append(True)
        return _stream(store, archived)

    return open_copy


def _stream(store: RawStore, archived: ArchivedFile) -> IO[bytes]:
    raw = store.open(archived.key)
    if raw is None:
        raise StoreError(
            f"the archived copy of {archived.name} ({archived.key}) is not in {store.location}; import "
            "the export again with `spotify-pipeline import-history PATH`"
        )
    return raw
