"""File-system helpers shared by the raw zone's local store and the token store."""

from __future__ import annotations

import os
from pathlib import Path


def fsync_dir(folder: Path) -> None:
    """Make a rename inside ``folder`` durable across a power cut.

    Best effort: the data is already in place when this runs, and not every platform lets a
    folder be opened for fsync.
    """
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
