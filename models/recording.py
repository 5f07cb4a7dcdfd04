"""Idempotent bulk recording of episodes: the one write path for rollout results.

Recording the same batch twice stores it once (``ON CONFLICT DO NOTHING`` on the episode
key). In the same transaction the per-task counters and the ``episode_stats`` summary move
by exactly the rows that were new, and a task that already has its N successes takes no
more successes: a success past the one that filled it is counted (attempts, surplus, stats)
but not stored. A failure is always stored: every attempt that ran is on record.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from models.db import dialect_insert
from models.orm import CampaignTask, Episode, EpisodeStat
from models.types import EpisodeRecord

ROW_BATCH = 1000


@dataclass
class RecordResult:
    inserted: int = 0
    duplicates: int = 0
    surplus: int = 0
    successes: int = 0


def record_episodes(
    session: Session, records: Sequence[EpisodeRecord], *, cap_successes: bool = True
) -> RecordResult:
    """Record a batch of episodes once. The caller owns the transaction."""
    result = RecordResult()
    groups: dict[tuple[int, str, str], list[EpisodeRecord]] = defaultdict(list)
    for rec in records:
        groups[(rec.campaign_id, rec.task, rec.robot)].append(rec)
    for key in sorted(groups):  # a fixed lock order: no deadlocks between workers
        _record_group(session, key, groups[key], result, cap_successes)
    return result


def _record_group(session, key, recs, result: RecordResult, cap_successes: bool) -> None:
    campaign_id, task, robot = key
    ctask = session.scalars(
        select(CampaignTask)
        .where(
            CampaignTask.campaign_id == campaign_id,
            CampaignTask.task == task,
            CampaignTask.robot == robot,
        )
        .with_for_update()
    ).one_or_none()
    new = _without_existing(session, key, recs)
    result.duplicates += len(recs) - len(new)
    surplus: list[EpisodeRecord] = []
    if cap_successes and ctask is not None:
        new, surplus = _cap(new, ctask.target_successes - ctask.successes)
        result.surplus += len(surplus)
    inserted = _bulk_insert(session, new) if new else []
    result.inserted += len(inserted)
    result.duplicates += len(new) - len(inserted)
    n_success = sum(1 for r in inserted if r.success)
    result.successes += n_success
    if ctask is not None and (inserted or surplus):
        session.execute(
            update(CampaignTask)
            .where(CampaignTask.id == ctask.id)
            .values(
                successes=CampaignTask.successes + n_success,
                attempts=CampaignTask.attempts + len(inserted) + len(surplus),
                surplus_discarded=CampaignTask.surplus_discarded + len(surplus),
            )
        )
    _bump_stats(session, [*inserted, *surplus])


def _without_existing(session, key, recs: list[EpisodeRecord]) -> list[EpisodeRecord]:
    """Drop records already stored (a re-delivered job) and repeats inside the batch.

    One range scan on the episode key's index: a block's seeds are consecutive, so the
    range is tight, and anything else in it is filtered here.
    """
    campaign_id, task, robot = key
    seeds = [r.seed for r in recs]
    existing = set(
        session.execute(
            select(Episode.seed, Episode.attempt).where(
                Episode.campaign_id == campaign_id,
                Episode.task == task,
                Episode.robot == robot,
                Episode.seed.between(min(seeds), max(seeds)),
            )
        ).all()
    )
    seen: set[tuple[int, int]] = set()
    fresh = []
    for rec in recs:
        k = (rec.seed, rec.attempt)
        if k not in existing and k not in seen:
            seen.add(k)
            fresh.append(rec)
    return fresh


def _cap(
    recs: list[EpisodeRecord], successes_left: int
) -> tuple[list[EpisodeRecord], list[EpisodeRecord]]:
    """(kept, surplus): every failure, and successes in seed order up to the task's target."""
    kept: list[EpisodeRecord] = []
    surplus: list[EpisodeRecord] = []
    for rec in sorted(recs, key=lambda r: (r.seed, r.attempt)):
        if rec.success and successes_left <= 0:
            surplus.append(rec)
            continue
        kept.append(rec)
        successes_left -= rec.success
    return kept, surplus


def _bulk_insert(session: Session, recs: list[EpisodeRecord]) -> list[EpisodeRecord]:
    # one cached statement, executed for many rows: SQLAlchemy batches it into multi-row
    # INSERTs ("insertmanyvalues") and still hands back what each row's RETURNING gave
    stmt = (
        dialect_insert(session)(Episode)
        .on_conflict_do_nothing(index_elements=["campaign_id", "task", "robot", "seed", "attempt"])
        .returning(Episode.seed, Episode.attempt)
    )
    by_key = {(r.seed, r.attempt): r for r in recs}
    inserted: list[EpisodeRecord] = []
    for i in range(0, len(recs), ROW_BATCH):
        rows = [r.to_json() for r in recs[i : i + ROW_BATCH]]
        inserted.extend(by_key[(s, a)] for s, a in session.execute(stmt, rows))
    return inserted


def _bump_stats(session: Session, recs: Iterable[EpisodeRecord]) -> None:
    counts = Counter((r.campaign_id, r.task, r.robot, r.teacher, r.outcome()) for r in recs)
    if not counts:
        return
    insert = dialect_insert(session)
    rows = [
        {"campaign_id": c, "task": t, "robot": rb, "teacher": te, "outcome": o, "count": n}
        for (c, t, rb, te, o), n in sorted(counts.items())
    ]
    stmt = insert(EpisodeStat).values(rows)
    stmt = stmt.on_conflict_do_update(
        index_elements=["campaign_id", "task", "robot", "teacher", "outcome"],
        set_={"count": EpisodeStat.count + stmt.excluded.count},
    )
    session.execute(stmt)
