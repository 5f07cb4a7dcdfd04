"""Embedded mode: the scheduler and the rollout task in one process, no broker needed."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable

from blazer.errors import BlazerError
from models import jobs
from models.db import session_scope
from scheduler.campaigns import get_campaign
from scheduler.loop import Scheduler
from scheduler.publishers import InlinePublisher
from worker.job_runner import WorkerRuntime, execute_job

log = logging.getLogger(__name__)


def run_embedded(campaign: str, on_progress: Callable[[], None] | None = None) -> str:
    """Run a campaign to the end in this process; returns its final state."""
    publisher = InlinePublisher()
    scheduler = Scheduler(publisher, campaign=campaign, holder=f"embedded@{socket.gethostname()}")
    runtime = WorkerRuntime(f"embedded@{socket.gethostname()}")
    with session_scope() as session:  # a previous embedded run here was interrupted
        jobs.release_all(session, runtime.name)
    try:
        while True:
            if not scheduler.tick():
                raise BlazerError("another scheduler is running on this database; stop it or wait")
            if not publisher.ready:
                time.sleep(0.2)
            while publisher.ready:
                execute_job(publisher.ready.pop(0), runtime)
                if on_progress is not None:
                    on_progress()
            with session_scope() as session:
                state = get_campaign(session, campaign).state
            if state != "active":
                return state
    finally:
        runtime.close()
        scheduler.release_lease()
