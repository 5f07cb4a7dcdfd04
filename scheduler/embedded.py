"""Embedded mode: the scheduler and the rollout task in one process, no broker needed."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable
from typing import Protocol

from models import jobs
from models.db import session_scope
from models.errors import BlazerError
from models.types import CampaignState
from scheduler.campaigns import INTERRUPTED, get_campaign
from scheduler.loop import Scheduler
from scheduler.publishers import InlinePublisher
from worker.job_runner import WorkerRuntime, execute_job

log = logging.getLogger(__name__)


class Retrain(Protocol):
    """Runs a due training run; ``run(name, on_progress)`` runs an evaluation campaign."""

    def __call__(self, run_id: int, /, run: Callable[..., str]) -> object: ...


def _mark_interrupted(campaign: str) -> None:
    """An embedded run that stops before its campaign ends leaves it paused with the reason
    (``campaign list`` shows it; ``campaign resume``, or the same command again, goes on)."""
    try:
        with session_scope() as session:
            c = get_campaign(session, campaign)
            if c.state == CampaignState.ACTIVE.value:
                c.state = CampaignState.PAUSED.value
                c.error = INTERRUPTED
    except Exception:  # the database may be what stopped it: the campaign stays as it was
        log.warning("could not mark campaign %s interrupted", campaign)


def run_embedded(
    campaign: str,
    on_progress: Callable[[], None] | None = None,
    *,
    exclusive: bool = True,
    retrain: Retrain | None = None,
) -> str:
    """Run a campaign to the end in this process; returns its final state.

    ``exclusive=False`` runs without the scheduler lease (an evaluation campaign inside a
    training job, next to a running scheduler): claims and row locks still keep every job
    and seed single. ``retrain(run_id, run=...)`` runs a due training run here (the caller
    passes ``training.retrain.run_retrain``); without it a due run stays pending for a
    ``train`` worker.
    """
    publisher = InlinePublisher()
    scheduler = Scheduler(publisher, campaign=campaign, holder=f"embedded@{socket.gethostname()}")
    runtime = WorkerRuntime(f"embedded@{socket.gethostname()}")
    with session_scope() as session:  # a previous embedded run here was interrupted
        jobs.release_all(session, runtime.name)
    try:
        while True:
            if exclusive and not scheduler.tick():
                raise BlazerError("another scheduler is running on this database; stop it or wait")
            if not exclusive:
                scheduler.tick_unleased()
            if not publisher.ready:
                time.sleep(0.2)
            while publisher.ready:
                execute_job(publisher.ready.pop(0), runtime)
                if on_progress is not None:
                    on_progress()
            while publisher.training and retrain is not None:
                retrain(
                    publisher.training.pop(0),
                    run=lambda name, on_progress=None: run_embedded(
                        name, on_progress, exclusive=False
                    ),
                )
            with session_scope() as session:
                state = get_campaign(session, campaign).state
            if state != CampaignState.ACTIVE.value:
                return state
    except BaseException:  # Ctrl-C, a signal turned exception, an error: say so, keep it
        _mark_interrupted(campaign)
        raise
    finally:
        runtime.close()
        if exclusive:
            scheduler.release_lease()
