"""Read side of the episode database: streaming episode queries and success statistics."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.episode_filter import EpisodeFilter
from models.orm import Episode
from models.types import episode_columns

STREAM_BATCH = 2000


EPISODE_COLUMNS = episode_columns(full=False)
FULL_COLUMNS = episode_columns(full=True)


__all__ = ["EPISODE_COLUMNS", "FULL_COLUMNS", "EpisodeFilter", "stream_episodes"]


def stream_episodes(
    session: Session,
    flt: EpisodeFilter,
    *,
    full: bool = False,
    newest: bool = False,
    before: int | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield matching episodes as dicts, in id order (``newest``: descending, below
    ``before``), without loading them all (keyset pages)."""
    names = FULL_COLUMNS if full else EPISODE_COLUMNS
    columns = [getattr(Episode, n) for n in names]
    last_id, sent = (before if newest else -1), 0
    while True:
        page = STREAM_BATCH if flt.limit is None else min(STREAM_BATCH, flt.limit - sent)
        if page <= 0:
            return
        stmt = flt.apply(select(*columns))
        if newest:
            if last_id is not None:
                stmt = stmt.where(Episode.id < last_id)
            stmt = stmt.order_by(Episode.id.desc())
        else:
            stmt = stmt.where(Episode.id > last_id).order_by(Episode.id)
        stmt = stmt.limit(page)
        rows = session.execute(stmt).all()
        for row in rows:
            yield dict(zip(names, row, strict=True))
        sent += len(rows)
        if len(rows) < page:
            return
        last_id = rows[-1][0]
