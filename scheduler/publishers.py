"""Publishers: a Celery queue for the distributed platform, a list for embedded mode."""

from __future__ import annotations

import logging

from models.settings import get_settings

log = logging.getLogger(__name__)


class CeleryPublisher:
    """Sends ``blazer.rollout(job_id)`` messages to the rollout queue."""

    def __init__(self) -> None:
        import redis

        from worker.celery_app import ROLLOUT_QUEUE, app

        self.app = app
        self.queue = ROLLOUT_QUEUE
        url = get_settings().broker_url
        self._redis = (
            redis.Redis.from_url(url, socket_timeout=2) if url.startswith("redis") else None
        )

    def publish(self, job_ids: list[int]) -> None:
        for job_id in job_ids:
            self.app.send_task(
                "blazer.rollout",
                args=[job_id],
                queue=self.queue,
                retry=True,
                retry_policy={"max_retries": 2, "interval_start": 0.5, "interval_step": 1},
            )

    def publish_training(self, run_ids: list[int]) -> None:
        from worker.celery_app import TRAIN_QUEUE

        for run_id in run_ids:
            self.app.send_task("blazer.train", args=[run_id], queue=TRAIN_QUEUE)

    def live_workers(self) -> int:
        try:
            return len(self.app.control.ping(timeout=1.0) or [])
        except Exception as exc:  # broker away: assume one worker, keep the queue short
            log.warning("worker ping failed: %s", exc)
            return 1

    def queue_depth(self) -> int | None:
        """Messages waiting in the rollout queue (Redis and RabbitMQ both answer a passive
        declare); None when the broker cannot be asked."""
        try:
            with self.app.connection_for_read() as conn:
                return int(
                    conn.default_channel.queue_declare(self.queue, passive=True).message_count
                )
        except Exception as exc:  # a queue not declared yet holds nothing; a broker away, unknown
            if "NOT_FOUND" in str(exc) or "no queue" in str(exc).lower():
                return 0
            log.debug("queue depth unknown: %s", exc)
            return None

    def broker_run_id(self) -> str | None:
        """Redis's run id changes on restart: every queued message is gone then."""
        if self._redis is None:
            return None
        try:
            return str(self._redis.info("server")["run_id"])
        except Exception:
            return None


class InlinePublisher:
    """Embedded mode: published jobs wait here for this process to run them."""

    def __init__(self, workers: int = 1) -> None:
        self.ready: list[int] = []
        self.training: list[int] = []
        self._workers = workers

    def publish(self, job_ids: list[int]) -> None:
        self.ready.extend(job_ids)

    def publish_training(self, run_ids: list[int]) -> None:
        self.training.extend(run_ids)

    def live_workers(self) -> int:
        return self._workers

    def queue_depth(self) -> int | None:
        return None  # nothing is ever lost in a list

    def broker_run_id(self) -> str | None:
        return None
