"""Read side of the episode database: streaming episode queries and success statistics."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from models.orm import Campaign, Episode
from models.types import episode_columns

STREAM_BATCH = 2000


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

    def apply(self, stmt: Select) -> Select:
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


EPISODE_COLUMNS = episode_columns(full=False)
FULL_COLUMNS = episode_columns(full=True)


def stream_episodes(
    session: Session, flt: EpisodeFilter, *, full: bool = False
) -> Iterator[dict[str, Any]]:
    """Yield matching episodes as dicts, in id order, without loading them all (keyset pages)."""
    names = FULL_COLUMNS if full else EPISODE_COLUMNS
    columns = [getattr(Episode, n) for n in names]
    last_id, sent = -1, 0
    while True:
        page = STREAM_BATCH if flt.limit is None else min(STREAM_BATCH, flt.limit - sent)
        if page <= 0:
            return
        stmt = (
            flt.apply(select(*columns)).where(Episode.id > last_id).order_by(Episode.id).limit(page)
        )
        rows = session.execute(stmt).all()
        for row in rows:
            yield dict(zip(names, row, strict=True))
        sent += len(rows)
        if len(rows) < page:
            return
        last_id = rows[-1][0]
