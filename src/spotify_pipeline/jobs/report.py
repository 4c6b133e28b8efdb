"""What a job tells its caller: a small, JSON-safe summary (no secrets), also used as Airflow XCom."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

Status = Literal["ok", "paused", "skipped", "partial", "failed"]


@dataclass
class JobReport:
    job: str
    status: Status = "ok"
    message: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    paused_until: datetime | None = None
    problems: list[str] = field(default_factory=list)

    def add(self, name: str, n: int = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + n

    def to_dict(self) -> dict[str, Any]:
        return {
            "job": self.job,
            "status": self.status,
            "message": self.message,
            "counts": dict(self.counts),
            "paused_until": self.paused_until.isoformat() if self.paused_until else None,
            "problems": list(self.problems),
        }

    def summary(self) -> str:
        counts = ", ".join(f"{k}={v}" for k, v in sorted(self.counts.items()))
        text = f"{self.job}: {self.status}"
        if self.message:
            text += f" - {self.message}"
        if counts:
            text += f" ({counts})"
        return text
