"""The one Celery app, configured from blazer's settings (JSON only, late acks, prefetch 1)."""

from __future__ import annotations

from celery import Celery

from models.settings import get_settings

ROLLOUT_QUEUE = "rollout"
TRAIN_QUEUE = "train"
# task modules, by name: the train task lives with training (a higher layer), never imported here
CELERY_TASK_MODULES = ["worker.tasks", "training.tasks"]


def job_time_limits_s(block_size: int = 64) -> tuple[float, float]:
    """Soft and hard limits for one rollout job of up to ``block_size`` seeds."""
    episode = get_settings().episode_timeout_s
    hard = block_size * 2 * episode + 600  # reset + execute per seed, plus one teacher call
    return hard - 60, hard


def make_app() -> Celery:
    settings = get_settings()
    soft, hard = job_time_limits_s()
    app = Celery("blazer", broker=settings.broker_url or "memory://", include=CELERY_TASK_MODULES)
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,  # job state lives in the database, not the result backend
        task_acks_late=True,
        task_reject_on_worker_lost=True,  # a killed pool process puts its message back
        worker_prefetch_multiplier=1,
        worker_max_tasks_per_child=settings.max_tasks_per_child,
        task_soft_time_limit=soft,
        task_time_limit=hard,
        broker_transport_options={"visibility_timeout": int(hard * 2)},
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,
        # On a lost broker connection a running job goes on: it records to the database, not
        # the broker, and the redelivered message is skipped at the claim (Celery's default
        # here is changing; chosen on purpose)
        worker_cancel_long_running_tasks_on_connection_loss=False,
        task_default_queue=ROLLOUT_QUEUE,
        task_routes={
            "blazer.rollout": {"queue": ROLLOUT_QUEUE},
            "blazer.train": {"queue": TRAIN_QUEUE},
        },
        worker_hijack_root_logger=False,
    )
    return app


app = make_app()
