"""A training run held under its trigger's lease: the work heart-beats it (``beat``), its
metrics finish it, an error fails it with the reason, and a lost lease (the scheduler handed
it to another worker, which finishes it) stops this one quietly."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from models.training_runs import LeaseLost, finish_run, heartbeat

log = logging.getLogger(__name__)

Beat = Callable[..., None]


def run_held(
    trigger_id: int, worker: str, work: Callable[[Beat], dict[str, Any]]
) -> dict[str, Any]:
    def beat(*_args) -> None:
        heartbeat(trigger_id, worker)

    try:
        beat()
        metrics = work(beat)
        finish_run(trigger_id, metrics=metrics)
        return metrics
    except LeaseLost as exc:
        log.warning("%s; stopping", exc)
        return {"lost": True}
    except BaseException as exc:
        finish_run(trigger_id, error=f"{exc.__class__.__name__}: {exc}")
        raise
