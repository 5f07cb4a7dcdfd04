"""Move a job's recorded episodes from the simulator's spool into one shard under the
artifact root, and point each episode row at its trajectory (``models.artifacts``).

One shard per job delivery (``job-<id>-d<delivery>.h5``). A re-delivered job stores only
the episodes the database does not hold yet, so a redelivery neither overwrites a shard an
earlier row points at nor stores an episode twice.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from sqlalchemy import select

from manip.rollout import Block, EpisodeOutcome
from models.artifacts import ArtifactError, ArtifactStore
from models.db import session_scope
from models.errors import DatabaseError
from models.orm import Episode
from models.settings import get_settings

log = logging.getLogger(__name__)

WRITE_TRIES = 3  # a shard write that fails is tried again after 1 s, then 2 s
WRITE_BACKOFF_S = 1.0


def episode_key(seed: int, attempt: int) -> str:
    return f"s{seed}-a{attempt}"


def shard_path(block: Block, delivery: int) -> str:
    return (
        f"campaign-{block.campaign_id}/{block.task}/{block.robot}/job-{block.job_id}-d{delivery}.h5"
    )


def _already_stored(block: Block) -> set[tuple[int, int]]:
    """(seed, attempt) of this block's episodes on record with a trajectory. With the
    database away, none: the worst case is a spare copy in this delivery's shard (the
    episode rows, written once, keep pointing at the first)."""
    try:
        return _stored_keys(block)
    except DatabaseError as exc:
        log.warning("job %s: cannot check stored trajectories (%s)", block.job_id, exc)
        return set()


def _stored_keys(block: Block) -> set[tuple[int, int]]:
    with session_scope() as session:
        rows = session.execute(
            select(Episode.seed, Episode.attempt).where(
                Episode.campaign_id == block.campaign_id,
                Episode.task == block.task,
                Episode.robot == block.robot,
                Episode.seed.between(min(block.seeds), max(block.seeds)),
                Episode.traj_uri.is_not(None),
            )
        ).all()
    return {(r.seed, r.attempt) for r in rows}


def store_trajectories(block: Block, outcomes: list[EpisodeOutcome], delivery: int) -> int:
    """Write the shard and fill the records' ``traj_*`` fields; returns episodes stored.

    A root that cannot take the shard is tried ``WRITE_TRIES`` times (an object store's
    transient error); one that still cannot (unwritable, full) leaves every verdict as it was,
    puts the one-line reason in ``traj_error`` and keeps the spool files (named there), so no
    recording is lost; stored ones leave the spool.
    """
    recorded = [o for o in outcomes if o.execution is not None and o.execution.trajectory]
    if not recorded:
        return 0
    kept: set[str] = set()  # spool files whose shard could not be written
    try:
        stored = _already_stored(block)
        todo = [o for o in recorded if (o.record.seed, o.record.attempt) not in stored]
        if not todo:
            return 0
        files = {
            episode_key(o.record.seed, o.record.attempt): (
                o.execution.trajectory["path"],
                o.execution.trajectory["steps"],
            )
            for o in todo
        }
        store = ArtifactStore(get_settings().resolved_artifacts_url())
        for attempt in range(WRITE_TRIES):
            try:
                refs = store.write_shard(shard_path(block, delivery), files)
                break
            except ArtifactError as exc:
                if attempt + 1 < WRITE_TRIES:
                    time.sleep(WRITE_BACKOFF_S * 2**attempt)
                    continue
                log.error("job %s: trajectories not stored: %s", block.job_id, exc)
                for o in todo:
                    kept.add(o.execution.trajectory["path"])
                    o.record.traj_error = f"{exc} (kept in {o.execution.trajectory['path']})"
                return 0
        for o in todo:
            ref = refs[episode_key(o.record.seed, o.record.attempt)]
            rec = o.record
            rec.traj_uri, rec.traj_key, rec.traj_bytes = ref.uri, ref.key, ref.bytes
            rec.traj_steps, rec.traj_sha256 = ref.steps, ref.sha256
        return len(todo)
    finally:
        for o in recorded:
            if o.execution.trajectory["path"] not in kept:
                Path(o.execution.trajectory["path"]).unlink(missing_ok=True)
