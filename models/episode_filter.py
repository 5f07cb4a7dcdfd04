"""An episode filter: what ``blazer episodes query``, the console and snapshots select by.

A plain dataclass (no SQLAlchemy import), rendered two ways: as SQLAlchemy criteria
(``apply``) for the full path, and as SQL text with placeholders (``where_sql``) for the
DBAPI fast path that keeps ``episodes query`` under 300 ms as a whole process.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass
class EpisodeFilter:
    campaign: str | None = None
    task: str | None = None
    robot: str | None = None
    teacher: str | None = None
    success: bool | None = None
    failure_reason: str | None = None
    seed_min: int | None = None
    seed_max: int | None = None
    since: datetime | None = None
    limit: int | None = None

    def apply(self, stmt: Any) -> Any:
        from sqlalchemy import select

        from models.orm import Campaign, Episode

        if self.campaign is not None:
            # a scalar subquery, not a join: the planner then walks the (campaign_id, id)
            # index in id order and stops at the page's limit
            campaign_id = select(Campaign.id).where(Campaign.name == self.campaign)
            stmt = stmt.where(Episode.campaign_id == campaign_id.scalar_subquery())
        for column, value in (
            (Episode.task, self.task),
            (Episode.robot, self.robot),
            (Episode.teacher, self.teacher),
            (Episode.success, self.success),
            (Episode.failure_reason, self.failure_reason),
        ):
            if value is not None:
                stmt = stmt.where(column == value)
        if self.seed_min is not None:
            stmt = stmt.where(Episode.seed >= self.seed_min)
        if self.seed_max is not None:
            stmt = stmt.where(Episode.seed <= self.seed_max)
        if self.since is not None:
            stmt = stmt.where(Episode.created_at >= self.since)
        return stmt

    def where_sql(self) -> tuple[str, list[Any]]:
        """The same criteria as SQL text over ``episodes`` (``{p}`` marks each parameter)."""
        parts: list[str] = ["true"]
        params: list[Any] = []
        if self.campaign is not None:
            parts.append("campaign_id = (SELECT id FROM campaigns WHERE name = {p})")
            params.append(self.campaign)
        equal: tuple[tuple[str, Any], ...] = (
            ("task", self.task),
            ("robot", self.robot),
            ("teacher", self.teacher),
            ("success", self.success),
            ("failure_reason", self.failure_reason),
        )
        for column, value in equal:
            if value is not None:
                parts.append(f"{column} = {{p}}")
                params.append(value)
        ranges: tuple[tuple[str, Any], ...] = (
            ("seed >= {p}", self.seed_min),
            ("seed <= {p}", self.seed_max),
            ("created_at >= {p}", self.since),
        )
        for clause, value in ranges:
            if value is not None:
                parts.append(clause)
                params.append(value)
        return " AND ".join(parts), params
