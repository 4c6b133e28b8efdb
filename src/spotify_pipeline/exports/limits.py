"""How large an export file may be: the one place the import's reader and its archive copy agree on.

A real Spotify export holds files of at most ~13 MB (Spotify splits the history into parts), which
deflate shrinks 5-15x. A file hundreds of times that size, or a zip member that expands more than a
hundred-fold, is not a streaming history: it is refused before it is read or copied, with one line
naming it, instead of filling the memory or the disk.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from ..errors import PipelineError

MAX_EXPORT_FILE_BYTES = 512 * 1024 * 1024  # one JSON file of an export, uncompressed
MAX_COMPRESSION_RATIO = 100  # uncompressed / compressed size of one zip member
RATIO_CHECKED_ABOVE = 1024 * 1024  # tiny members may compress oddly well; they cannot fill anything


class ExportTooLarge(PipelineError):
    """An export file or zip member over the limits above."""


def _mib(n: int) -> str:
    return f"{n / (1024 * 1024):,.1f} MiB"


def check_file_size(name: str, size: int) -> None:
    """Refuse a file of ``size`` bytes (declared or counted so far) over ``MAX_EXPORT_FILE_BYTES``."""
    if size > MAX_EXPORT_FILE_BYTES:
        raise ExportTooLarge(
            f"{name}: {_mib(size)} or more, larger than any Spotify export file (at most ~15 MiB; "
            f"the limit is {_mib(MAX_EXPORT_FILE_BYTES)}): this is not a streaming history from Spotify. "
            "Remove it from what you import and run again; nothing was imported"
        )


def check_zip_member(zip_path: Path, info: zipfile.ZipInfo) -> None:
    """Refuse a member whose declared size or compression ratio no Spotify export has (a zip bomb)."""
    name = f"{zip_path}/{info.filename}"
    check_file_size(name, info.file_size)
    if info.file_size > RATIO_CHECKED_ABOVE and info.file_size > MAX_COMPRESSION_RATIO * max(
        info.compress_size, 1
    ):
        ratio = info.file_size / max(info.compress_size, 1)
        raise ExportTooLarge(
            f"{name}: expands {ratio:,.0f}-fold ({_mib(info.compress_size)} to {_mib(info.file_size)}; "
            f"Spotify's files expand at most ~15-fold, the limit is {MAX_COMPRESSION_RATIO}): this zip "
            "was not made by Spotify. Download the export again; nothing was imported"
        )
