"""One entry for a training run the scheduler hands out: a retrain (``retrain:`` policy) or a
bootstrap round (``bootstrap:`` policy), told apart by the run's kind."""

from __future__ import annotations

from typing import Any

from models.db import session_scope
from models.orm import TrainingRun


def run_training(
    run_id: int, run=None, worker: str | None = None, round_run=None
) -> dict[str, Any]:
    """``run(name, on_progress)`` runs a retrain's evaluation campaign; ``round_run`` a
    bootstrap round's (default ``run``): on the train queue they go to the rollout workers."""
    with session_scope() as session:
        found = session.get(TrainingRun, run_id)
        kind = found.kind if found is not None else None
    if kind is None:
        return {"skipped": True}
    if kind == "bootstrap":
        from training.bootstrap import run_bootstrap_round

        return run_bootstrap_round(run_id, run=round_run or run, worker=worker)
    from training.retrain import run_retrain

    return run_retrain(run_id, run=run, worker=worker)
