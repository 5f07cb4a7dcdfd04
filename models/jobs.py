"""Every job state change lives here: plan -> publish -> claim -> heartbeat -> finish.

pending --publish--> queued --claim--> running --finish--> done
   ^                   |                  |  \\--fail----> failed   (raised max_deliveries times)
   |                   |  (lost message)  |  (lease expired: worker died; raised: retry)
   +-------------------+------------------+
pending/queued --cancel--> cancelled   (task full or campaign cancelled)
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from models.db import rowcount
from models.orm import Campaign, CampaignTask, Job, as_utc, utcnow
from models.types import CampaignState, JobState

OPEN = [s.value for s in JobState.open_states()]


def mark_queued(session: Session, job_ids: list[int]) -> None:
    session.execute(
        update(Job)
        .where(Job.id.in_(job_ids), Job.state == JobState.PENDING.value)
        .values(state=JobState.QUEUED.value, queued_at=utcnow(), publishes=Job.publishes + 1)
    )


def unpublish(session: Session, job_ids: list[int]) -> None:
    """The broker refused the message: the job waits to be published again."""
    session.execute(
        update(Job)
        .where(Job.id.in_(job_ids), Job.state == JobState.QUEUED.value)
        .values(state=JobState.PENDING.value, publishes=Job.publishes - 1)
    )


class Claim(str, enum.Enum):
    RUN = "run"
    SKIP = "skip"  # someone else holds it, or it is finished


def claim(session: Session, job_id: int, worker: str, lease_s: float) -> tuple[str, Job | None]:
    """Take a job for ``worker`` if it is queued (or running with an expired lease)."""
    job = session.scalars(select(Job).where(Job.id == job_id).with_for_update()).one_or_none()
    if job is None:
        return Claim.SKIP, None
    now = utcnow()
    lease_expired = job.lease_expires_at is not None and as_utc(job.lease_expires_at) < now
    if job.state == JobState.RUNNING.value and not lease_expired:
        return Claim.SKIP, job
    if job.state not in (JobState.QUEUED.value, JobState.PENDING.value, JobState.RUNNING.value):
        return Claim.SKIP, job
    campaign = session.get(Campaign, job.campaign_id)
    ctask = session.get(CampaignTask, job.campaign_task_id)
    if campaign.state == CampaignState.CANCELLED.value or ctask.successes >= ctask.target_successes:
        _set(
            session,
            job,
            JobState.CANCELLED,
            error="task already has its successes"
            if campaign.state != CampaignState.CANCELLED.value
            else "campaign cancelled",
        )
        return Claim.SKIP, job
    if campaign.state == CampaignState.PAUSED.value:
        _set(session, job, JobState.PENDING)  # runs again after resume
        return Claim.SKIP, job
    job.state = JobState.RUNNING.value
    job.worker = worker
    job.deliveries += 1
    job.started_at = now
    job.lease_expires_at = now + timedelta(seconds=lease_s)
    return Claim.RUN, job


class Beat(str, enum.Enum):
    OK = "ok"
    LOST = "lost"  # another worker holds the job now
    STOP = "stop"  # the task has its successes or the campaign was cancelled
    PAUSED = "paused"


def heartbeat(
    session: Session, job_id: int, worker: str, lease_s: float, pending_successes: int = 0
) -> str:
    """Extend the lease and say whether to go on (a ``Beat``).

    ``pending_successes``: successes this job has found but not yet recorded.
    """
    row = session.execute(
        select(
            Job.state,
            Job.worker,
            Campaign.state,
            CampaignTask.successes,
            CampaignTask.target_successes,
        )
        .join(Campaign, Campaign.id == Job.campaign_id)
        .join(CampaignTask, CampaignTask.id == Job.campaign_task_id)
        .where(Job.id == job_id)
    ).one_or_none()
    if row is None:
        return Beat.LOST
    state, holder, campaign_state, successes, target = row
    if state != JobState.RUNNING.value or holder != worker:
        return Beat.LOST
    if campaign_state == CampaignState.PAUSED.value:
        return Beat.PAUSED
    if campaign_state != CampaignState.ACTIVE.value or successes + pending_successes >= target:
        return Beat.STOP
    session.execute(
        update(Job)
        .where(Job.id == job_id)
        .values(lease_expires_at=utcnow() + timedelta(seconds=lease_s))
    )
    return Beat.OK


def renew_leases(session: Session, worker: str, lease_s: float, job_ids: Iterable[int]) -> int:
    """A live worker process keeps the leases of the jobs it is running fresh (a thread beside
    the job, every lease/4): a process that dies stops renewing, and its job is reclaimed within
    one short lease instead of after the longest episode. Only ``job_ids``, the jobs its code
    is inside now: a job whose run raised is never renewed again, so its lease runs out."""
    ids = list(job_ids)
    if not ids:
        return 0
    return (
        rowcount(
            session.execute(
                update(Job)
                .where(Job.id.in_(ids), Job.worker == worker, Job.state == JobState.RUNNING.value)
                .values(lease_expires_at=utcnow() + timedelta(seconds=lease_s))
            )
        )
        or 0
    )


def finish(session: Session, job_id: int, worker: str, error: str | None = None) -> bool:
    """Mark our running job done (or failed); False if it is no longer ours."""
    job = session.get(Job, job_id, with_for_update=True)
    if job is None or job.state != JobState.RUNNING.value or job.worker != worker:
        return False
    _set(session, job, JobState.FAILED if error else JobState.DONE, error=error)
    return True


class Redelivery(str, enum.Enum):
    """What ``fail_delivery`` did with a job whose run raised."""

    RETRY = "retry"  # back to pending, published again
    FAILED = "failed"  # out of deliveries: failed with the reason
    LOST = "lost"  # not ours any more (another worker holds it, or it finished)


def fail_delivery(
    session: Session, job_id: int, worker: str, error: str, max_deliveries: int
) -> Redelivery:
    """Our run of the job raised: hand it back for another delivery, or, after
    ``max_deliveries``, mark it failed with the reason."""
    job = session.get(Job, job_id, with_for_update=True)
    if job is None or job.state != JobState.RUNNING.value or job.worker != worker:
        return Redelivery.LOST
    if job.deliveries >= max_deliveries:
        _set(session, job, JobState.FAILED, error=f"{error} (after {job.deliveries} deliveries)")
        return Redelivery.FAILED
    _set(session, job, JobState.PENDING, error=error)
    return Redelivery.RETRY


def release(session: Session, job_id: int, worker: str) -> None:
    """Hand a job back unfinished (paused, interrupted): it is published again later."""
    session.execute(
        update(Job)
        .where(Job.id == job_id, Job.worker == worker, Job.state == JobState.RUNNING.value)
        .values(state=JobState.PENDING.value, lease_expires_at=None)
    )


def release_all(session: Session, worker: str) -> int:
    """Everything ``worker`` was running goes back to pending (it restarted)."""
    return (
        rowcount(
            session.execute(
                update(Job)
                .where(Job.worker == worker, Job.state == JobState.RUNNING.value)
                .values(state=JobState.PENDING.value, lease_expires_at=None)
            )
        )
        or 0
    )


def reclaim_expired(session: Session, now: datetime | None = None) -> int:
    """Running jobs whose worker stopped heart-beating go back to pending."""
    now = now or utcnow()
    result = session.execute(
        update(Job)
        .where(Job.state == JobState.RUNNING.value, Job.lease_expires_at < now)
        .values(state=JobState.PENDING.value, lease_expires_at=None)
    )
    return rowcount(result)


def requeue_lost(session: Session, older_than: datetime | None = None) -> int:
    """Queued jobs whose message is gone (broker restarted, or older than a limit) -> pending."""
    stmt = update(Job).where(Job.state == JobState.QUEUED.value)
    if older_than is not None:
        stmt = stmt.where(Job.queued_at < older_than)
    return rowcount(session.execute(stmt.values(state=JobState.PENDING.value)))


def cancel_open(
    session: Session, *, campaign_id: int, campaign_task_id: int | None = None, why: str
) -> int:
    """Cancel pending and queued jobs (running ones stop at their next heartbeat)."""
    stmt = update(Job).where(
        Job.campaign_id == campaign_id,
        Job.state.in_([JobState.PENDING.value, JobState.QUEUED.value]),
    )
    if campaign_task_id is not None:
        stmt = stmt.where(Job.campaign_task_id == campaign_task_id)
    return (
        rowcount(
            session.execute(
                stmt.values(state=JobState.CANCELLED.value, error=why, finished_at=utcnow())
            )
        )
        or 0
    )


def open_seed_counts(session: Session, campaign_id: int) -> dict[int, tuple[int, int]]:
    """campaign_task_id -> (open jobs, open seeds)."""
    rows = session.execute(
        select(Job.campaign_task_id, func.count(), func.coalesce(func.sum(Job.seed_count), 0))
        .where(Job.campaign_id == campaign_id, Job.state.in_(OPEN))
        .group_by(Job.campaign_task_id)
    )
    return {tid: (int(n), int(seeds)) for tid, n, seeds in rows}


def failed_tasks(session: Session, campaign_id: int) -> dict[int, str]:
    """campaign_task_id -> the last error, for task lines whose jobs have all failed (at least
    one failed, none done): planning more jobs for them would only fail again."""
    # runs every scheduler tick: read failed jobs only (indexed, usually none), never the done ones
    failed = session.execute(
        select(Job.campaign_task_id, Job.error)
        .where(Job.campaign_id == campaign_id, Job.state == JobState.FAILED.value)
        .order_by(Job.id)
    ).all()
    if not failed:
        return {}
    last = {task_id: error or "failed" for task_id, error in failed}
    done = set(
        session.scalars(
            select(Job.campaign_task_id)
            .where(Job.campaign_task_id.in_(last), Job.state == JobState.DONE.value)
            .distinct()
        )
    )
    return {t: e for t, e in last.items() if t not in done}


def _set(session: Session, job: Job, state: JobState, error: str | None = None) -> None:
    job.state = state.value
    job.error = error
    job.lease_expires_at = None
    if state in (JobState.DONE, JobState.FAILED, JobState.CANCELLED):
        job.finished_at = utcnow()
