"""The Celery task of the ``train`` queue: a retraining run or a bootstrap round (snapshot,
SFT, evaluation, promotion). It lives with training; the scheduler sends it by name (``blazer.train``).
Its code is imported when a run starts (see ``worker.tasks``)."""

from __future__ import annotations

import os

from worker.celery_app import app


@app.task(name="blazer.train", bind=True, acks_late=True)
def train(self, run_id: int) -> dict:
    from scheduler.embedded import run_embedded
    from scheduler.runner import run_campaign
    from training.triggers import run_training

    return run_training(
        run_id,
        run=lambda name, on_progress=None: run_embedded(name, on_progress, exclusive=False),
        # a bootstrap round's evaluations (hundreds of episodes) go to the rollout workers
        round_run=lambda name, on_progress=None: run_campaign(name, on_progress),
        worker=f"train-{self.request.hostname}-{os.getpid()}",
    )
