"""Campaign statistics from the ``episode_stats`` summary: what ``blazer stats`` prints.

Core SQL on a connection or session, no ORM: this module is on ``blazer stats``'s start-up
path, which must stay under 300 ms.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any


def wilson_interval(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """95% Wilson score interval for a success rate."""
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


@dataclass
class StatRow:
    campaign: str
    task: str
    robot: str
    teacher: str
    attempts: int = 0
    successes: int = 0  # stored: what a query returns
    surplus: int = 0  # successes past the task's N: counted, not stored
    failures: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        """The teacher's success rate: every success, stored or surplus, over attempts."""
        return (self.successes + self.surplus) / self.attempts if self.attempts else 0.0

    @property
    def interval(self) -> tuple[float, float]:
        return wilson_interval(self.successes + self.surplus, self.attempts)

    def to_json(self) -> dict[str, Any]:
        low, high = self.interval
        return {
            "campaign": self.campaign,
            "task": self.task,
            "robot": self.robot,
            "teacher": self.teacher,
            "attempts": self.attempts,
            "successes": self.successes,
            "surplus": self.surplus,
            "success_rate": round(self.rate, 4),
            "ci95": [round(low, 4), round(high, 4)],
            "failures": dict(sorted(self.failures.items())),
        }


STATS_SQL = (
    "SELECT c.name, s.task, s.robot, s.teacher, s.outcome, s.count FROM episode_stats s "
    "JOIN campaigns c ON c.id = s.campaign_id"
)


def episode_stats(conn, campaign: str | None = None) -> list[StatRow]:
    """Attempts, successes and failure reasons by campaign x task x robot x teacher, from a
    SQLAlchemy connection or session.

    Reads the ``episode_stats`` summary the recorder keeps in step: a few rows per task,
    whatever the number of episodes.
    """
    from sqlalchemy import text

    sql, params = STATS_SQL, {}
    if campaign is not None:
        sql, params = sql + " WHERE c.name = :name", {"name": campaign}
    return summarize(conn.execute(text(sql), params))


def episode_stats_fast(url: str, campaign: str | None = None) -> list[StatRow] | None:
    """The same through the DBAPI driver (models.dbapi), for a fast ``blazer stats``; None
    when the full path must answer (no schema, an old one, an unreachable server)."""
    from models.dbapi import fetch_at_head

    if campaign is None:
        rows = fetch_at_head(url, STATS_SQL)
    else:
        rows = fetch_at_head(url, STATS_SQL + " WHERE c.name = {p}", (campaign,))
    return None if rows is None else summarize(rows)


def summarize(rows) -> list[StatRow]:
    """(campaign, task, robot, teacher, outcome, count) rows, one StatRow per group."""
    out: dict[tuple[str, str, str, str], StatRow] = {}
    for name, task, robot, teacher, outcome, count in rows:
        row = out.setdefault((name, task, robot, teacher), StatRow(name, task, robot, teacher))
        row.attempts += count
        if outcome == "success":
            row.successes += count
        elif outcome == "surplus":
            row.surplus += count
        else:
            row.failures[outcome] = row.failures.get(outcome, 0) + count
    return [out[k] for k in sorted(out)]
