"""Every training-run state change lives here (as models/jobs.py does for jobs).

A retrain trigger: created pending by the scheduler -> claimed running by a train worker
(lease, heartbeats) -> done | failed; a running one whose worker stopped heart-beating goes
back to pending. A plain SFT/DPO run: running (resumed by its output folder) -> done | failed.
"""

from __future__ import annotations

from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from models.db import rowcount, session_scope
from models.errors import ConfigError
from models.orm import TrainingRun, utcnow
from models.types import TrainingRunState

OPEN = (TrainingRunState.PENDING.value, TrainingRunState.RUNNING.value)


class LeaseLost(Exception):
    """Another worker holds the retrain trigger now: this one must stop, writing nothing."""


def create_trigger(
    session: Session,
    *,
    lineage: str,
    campaign_id: int,
    base: str,
    successes: int,
    policy: dict,
    kind: str = "sft",
) -> int | None:
    """A pending retrain for ``lineage``, unless one is already open; its id or None."""
    busy = session.scalar(
        select(func.count())
        .select_from(TrainingRun)
        .where(TrainingRun.lineage == lineage, TrainingRun.state.in_(OPEN))
    )
    if busy:
        return None
    run = TrainingRun(
        kind=kind,
        base_model=base,
        state=TrainingRunState.PENDING.value,
        lineage=lineage,
        campaign_id=campaign_id,
        source_successes=successes,
        hyperparameters={"policy": policy},
    )
    session.add(run)
    session.flush()
    return run.id


def claim_trigger(session: Session, run_id: int, worker: str, lease_s: float) -> TrainingRun | None:
    """A retrain trigger becomes ``worker``'s: a pending one, or a running one whose worker
    stopped heart-beating (it died; the new holder resumes from the checkpoint). None if it
    is finished or another live worker holds it, so a redelivered message runs nothing twice."""
    run = session.get(TrainingRun, run_id, with_for_update=True)
    if run is None or run.state not in OPEN:
        return None
    now = utcnow()
    beat = run.heartbeat_at
    if beat is not None and beat.tzinfo is None:
        beat = beat.replace(tzinfo=UTC)  # SQLite hands back naive UTC
    alive = beat is not None and now - beat < timedelta(seconds=lease_s)
    if run.state == TrainingRunState.RUNNING.value and alive:
        return None
    run.state, run.worker, run.heartbeat_at = TrainingRunState.RUNNING.value, worker, now
    return run


def heartbeat(run_id: int, worker: str) -> None:
    """Progress on a retrain trigger: keeps its lease, or raises LeaseLost if it was lost."""
    with session_scope() as session:
        held = rowcount(
            session.execute(
                update(TrainingRun)
                .where(
                    TrainingRun.id == run_id,
                    TrainingRun.worker == worker,
                    TrainingRun.state == TrainingRunState.RUNNING.value,
                )
                .values(heartbeat_at=utcnow())
            )
        )
    if not held:
        raise LeaseLost(f"retrain {run_id} is no longer held by {worker}")


def requeue_stale(session: Session, lease_s: float) -> list[int]:
    """Retrain triggers whose train worker stopped heart-beating (killed, machine lost) go
    back to pending, to be handed out again; returns their ids."""
    cutoff = utcnow() - timedelta(seconds=lease_s)
    runs = session.scalars(
        select(TrainingRun)
        .where(
            TrainingRun.campaign_id.is_not(None),
            TrainingRun.state == TrainingRunState.RUNNING.value,
            TrainingRun.heartbeat_at < cutoff,
        )
        .with_for_update()
    ).all()
    for run in runs:
        run.state, run.worker = TrainingRunState.PENDING.value, None
    return [run.id for run in runs]


def start_run(kind: str, dataset_id: int, base: str, hyper: dict[str, Any], out_dir: Path) -> int:
    """A TrainingRun row for ``out_dir``; an unfinished run there is resumed, not duplicated."""
    out_dir = out_dir.resolve()
    with session_scope() as session:
        run = session.scalars(
            select(TrainingRun).where(TrainingRun.output_dir == str(out_dir))
        ).one_or_none()
        if run is not None:
            if run.state == TrainingRunState.DONE.value:
                raise ConfigError(
                    f"the run in {out_dir} is finished; give a new --name for a new run"
                )
            run.state = TrainingRunState.RUNNING.value
            return run.id
        run = TrainingRun(
            kind=kind,
            dataset_id=dataset_id,
            base_model=base,
            state=TrainingRunState.RUNNING.value,
            hyperparameters=hyper,
            output_dir=str(out_dir),
        )
        session.add(run)
        session.flush()
        return run.id


def finish_run(
    run_id: int, *, metrics: dict[str, Any] | None = None, error: str | None = None
) -> None:
    with session_scope() as session:
        run = session.get(TrainingRun, run_id)
        run.state = (TrainingRunState.FAILED if error else TrainingRunState.DONE).value
        run.metrics = metrics or {}
        run.error = error
        run.finished_at = utcnow()
