"""Celery tasks. They take ids and re-read the database; running one twice is safe.

The job code (database, rollout, teachers) is imported when a job first runs, in the
process that runs it: the prefork pool's parent only receives messages and supervises, so
it never loads the database stack its pool processes would otherwise share copy-on-write
(``blazer worker`` keeps that parent lean: ``worker.celery_main``)."""

from __future__ import annotations

import atexit
import logging
from typing import TYPE_CHECKING

from celery.exceptions import SoftTimeLimitExceeded

from worker.celery_app import app

if TYPE_CHECKING:
    from worker.job_runner import WorkerRuntime

log = logging.getLogger(__name__)

_runtime: WorkerRuntime | None = None


def runtime() -> WorkerRuntime:
    """One runtime per pool process, named after the worker node and the process."""
    global _runtime
    if _runtime is None:
        from worker.job_runner import WorkerRuntime

        _runtime = WorkerRuntime()
        atexit.register(_runtime.close)
    return _runtime


@app.task(name="blazer.rollout", bind=True, max_retries=None)
def rollout(self, job_id: int) -> str:
    from models import jobs
    from models.db import session_scope
    from models.errors import DatabaseError
    from worker.job_runner import execute_job

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
