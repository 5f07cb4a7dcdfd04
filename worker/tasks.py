"""Celery tasks. They take ids and re-read the database; running one twice is safe."""

from __future__ import annotations

import atexit
import logging

from celery.exceptions import SoftTimeLimitExceeded

from models import jobs
from models.db import session_scope
from models.errors import DatabaseError
from worker.celery_app import app
from worker.job_runner import WorkerRuntime, execute_job

log = logging.getLogger(__name__)

_runtime: WorkerRuntime | None = None


def runtime() -> WorkerRuntime:
    """One runtime per pool process, named after the worker node and the process."""
    global _runtime
    if _runtime is None:
        _runtime = WorkerRuntime()
        atexit.register(_runtime.close)
    return _runtime


@app.task(name="blazer.rollout", bind=True, max_retries=None)
def rollout(self, job_id: int) -> str:
    rt = runtime()
    try:
        return execute_job(job_id, rt)
    except DatabaseError as exc:  # the database is restarting: try the job again shortly
        log.warning("job %s: database unavailable (%s); retrying", job_id, exc)
        raise self.retry(exc=exc, countdown=5, max_retries=60) from None
    except SoftTimeLimitExceeded:
        log.error("job %s ran past its soft time limit; handing it back", job_id)
        with session_scope() as session:
            jobs.release(session, job_id, rt.name)
        return "released"
