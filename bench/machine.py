"""The machine a run was measured on: cores, memory, Python, SQLite and MariaDB versions."""

from __future__ import annotations

import os
import platform
import sqlite3
from typing import Any


def describe(mariadb_version: str | None) -> dict[str, Any]:
    mem_kb = 0
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/meminfo") as f:
            mem_kb = next(int(line.split()[1]) for line in f if line.startswith("MemTotal:"))
        with open("/proc/cpuinfo") as f:
            model = next(
                (line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), model
            )
    except (OSError, StopIteration):
        pass
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gb": round(mem_kb / 2**20, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "mariadb": mariadb_version,
    }
