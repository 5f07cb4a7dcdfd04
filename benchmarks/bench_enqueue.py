"""Plan and enqueue the first window of a 1,000,000-episode campaign: seconds and Redis memory.

The scheduler writes at most a window of jobs per task and publishes only as many as the
live workers can take (queue_depth_per_worker x workers), so the broker holds a handful of
messages, not a million. Measured with 64 and 1,024 pretend-live workers.

    .venv/bin/python benchmarks/bench_enqueue.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402

from benchmarks.common import print_table, scratch_postgres  # noqa: E402
from manip.sim.tasks import TASKS as TASK_MODULES  # noqa: E402
from tests.cluster import free_port  # noqa: E402


class PretendWorkers:
    """The Celery publisher, reporting a fixed number of live workers."""

    def __init__(self, workers: int) -> None:
        from scheduler.publishers import CeleryPublisher

        self._celery = CeleryPublisher()
        self.workers = workers

    def publish(self, job_ids):
        self._celery.publish(job_ids)

    def publish_training(self, run_ids):
        pass

    def live_workers(self) -> int:
        return self.workers

    def broker_run_id(self):
        return self._celery.broker_run_id()


def main() -> None:
    port = free_port()
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    time.sleep(1)
    os.environ["BLAZER_BROKER_URL"] = f"redis://127.0.0.1:{port}/0"
    rows = []
    try:
        for workers in (64, 1024):
            with scratch_postgres():
                from models.db import session_scope
                from scheduler import campaigns
                from scheduler.loop import Scheduler
                from scheduler.spec import CampaignSpec

                r = redis.Redis(port=port)
                r.flushall()
                before = r.info("memory")["used_memory"]
                tasks = list(TASK_MODULES)
                with session_scope() as s:
                    campaigns.create_campaign(
                        s,
                        CampaignSpec.from_dict(
                            {
                                "name": "million",
                                "tasks": tasks,
                                "successes": 1_000_000 // 6 + 1,
                                "block_size": 64,
                            }
                        ),
                    )

                start = time.perf_counter()
                Scheduler(PretendWorkers(workers), campaign="million").tick()
                seconds = time.perf_counter() - start
                used = (r.info("memory")["used_memory"] - before) / 2**20
                queued = r.llen("rollout")
                with session_scope() as s:
                    from sqlalchemy import func, select

                    from models.orm import Job

                    jobs = s.scalar(select(func.count()).select_from(Job))
                rows.append([f"{workers}", f"{jobs}", f"{queued}", f"{seconds:.2f}", f"{used:.2f}"])
    finally:
        server.kill()
    print_table(
        "Enqueue the first window of a 1,000,000-episode campaign",
        ["live workers", "jobs written", "messages in Redis", "seconds", "Redis MB added"],
        rows,
    )


if __name__ == "__main__":
    main()
