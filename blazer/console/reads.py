"""What the console's pages show, read from the episode database: one function per page.

Every read is bounded: a few rows per campaign, task line or worker, one page of episodes by
keyset (id below a cursor, never OFFSET), and the failure counts from the ``episode_stats``
summary, so a page answers in milliseconds whatever the number of episodes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.errors import BlazerError
from models.orm import (
    Campaign,
    CampaignTask,
    Dataset,
    Episode,
    Job,
    ModelVersion,
    SchedulerLease,
    TrainingRun,
    as_utc,
    utcnow,
)
from models.queries import FULL_COLUMNS, EpisodeFilter
from models.stats import StatRow, episode_stats, wilson_interval
from models.types import CampaignState, JobState
from scheduler import campaigns as campaign_records

PAGE_SIZE = 50
RATE_WINDOW = timedelta(minutes=10)  # the successes per minute an ETA is read from
STALL_AFTER = timedelta(minutes=5)  # an active campaign with open work and no episode this long


# campaigns ------------------------------------------------------------------------------------
@dataclass
class TaskLine:
    task: str
    robot: str
    successes: int
    target: int
    attempts: int
    rate: float
    ci: tuple[float, float]
    open_jobs: int
    per_minute: float  # successes in the last RATE_WINDOW, per minute
    eta_s: float | None  # None: done, or nothing recent to extrapolate from


@dataclass
class CampaignView:
    name: str
    state: str
    teacher: str
    created_at: datetime
    error: str | None
    lines: list[TaskLine]
    jobs: dict[str, int]
    failed_jobs: list[dict[str, Any]]
    last_episode_at: datetime | None
    stalled: str | None  # why it looks stalled, or None

    @property
    def successes(self) -> int:
        return sum(t.successes for t in self.lines)

    @property
    def target(self) -> int:
        return sum(t.target for t in self.lines)

    @property
    def eta_s(self) -> float | None:
        etas = [t.eta_s for t in self.lines if t.successes < t.target]
        return None if not etas or None in etas else max(e for e in etas if e is not None)


def campaign_names(session: Session) -> list[str]:
    return list(session.scalars(select(Campaign.name).order_by(Campaign.id.desc())))


def campaign_view(session: Session, name: str) -> CampaignView:
    """One campaign's live progress, its failed jobs with their reasons; NotFound (a 404
    page) for an unknown name."""
    campaign = campaign_records.get_campaign(session, name)
    view = campaign_views(session, [campaign])[0]
    view.failed_jobs = campaign_records.failed_jobs(session, campaign.id)
    return view


def campaign_views(session: Session, campaigns: list[Campaign] | None = None) -> list[CampaignView]:
    """Live progress of ``campaigns`` (default: all, newest first) in a fixed number of
    queries, whatever their number: task lines, open jobs, jobs by state, successes in the
    last RATE_WINDOW, and each campaign's newest episode (one index probe each)."""
    if campaigns is None:
        campaigns = list(session.scalars(select(Campaign).order_by(Campaign.id.desc())))
    if not campaigns:
        return []
    ids = [c.id for c in campaigns]
    lines = session.scalars(
        select(CampaignTask).where(CampaignTask.campaign_id.in_(ids)).order_by(CampaignTask.id)
    ).all()
    open_jobs = dict(
        session.execute(
            select(Job.campaign_task_id, func.count())
            .where(
                Job.campaign_id.in_(ids), Job.state.in_([s.value for s in JobState.open_states()])
            )
            .group_by(Job.campaign_task_id)
        ).all()
    )
    jobs: dict[int, dict[str, int]] = {i: {s.value: 0 for s in JobState} for i in ids}
    for cid, state, n in session.execute(
        select(Job.campaign_id, Job.state, func.count())
        .where(Job.campaign_id.in_(ids))
        .group_by(Job.campaign_id, Job.state)
    ):
        jobs[cid][state] = int(n)
    recent: dict[tuple[int, str, str], int] = {
        (cid, task, robot): int(n)
        for cid, task, robot, n in session.execute(
            select(Episode.campaign_id, Episode.task, Episode.robot, func.count())
            .where(Episode.success.is_(True), Episode.created_at >= utcnow() - RATE_WINDOW)
            .where(Episode.campaign_id.in_(ids))
            .group_by(Episode.campaign_id, Episode.task, Episode.robot)
        )
    }
    newest = (
        select(Episode.created_at)
        .where(Episode.campaign_id == Campaign.id)
        .order_by(Episode.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    last: dict[int, Any] = dict(
        session.execute(select(Campaign.id, newest).where(Campaign.id.in_(ids))).all()
    )
    minutes = RATE_WINDOW.total_seconds() / 60
    by_campaign: dict[int, list[TaskLine]] = {i: [] for i in ids}
    for t in lines:
        per_minute = recent.get((t.campaign_id, t.task, t.robot), 0) / minutes
        left = t.target_successes - t.successes
        eta = 0.0 if left <= 0 else (60 * left / per_minute if per_minute else None)
        done = t.successes + t.surplus_discarded
        by_campaign[t.campaign_id].append(
            TaskLine(
                t.task,
                t.robot,
                t.successes,
                t.target_successes,
                t.attempts,
                done / t.attempts if t.attempts else 0.0,
                wilson_interval(done, t.attempts),
                int(open_jobs.get(t.id, 0)),
                per_minute,
                eta,
            )
        )
    views = []
    for c in campaigns:
        newest_at = as_utc(last.get(c.id))
        n_open = sum(jobs[c.id][s.value] for s in JobState.open_states())
        stalled = None
        if c.state == CampaignState.ACTIVE.value and n_open:
            idle = utcnow() - (newest_at or as_utc(c.created_at))
            if idle > STALL_AFTER:
                stalled = (
                    f"no episode for {idle.total_seconds() / 60:.0f} min with {n_open} open job(s)"
                )
        views.append(
            CampaignView(
                c.name,
                c.state,
                c.teacher,
                as_utc(c.created_at),
                c.error,
                by_campaign[c.id],
                jobs[c.id],
                [],
                newest_at,
                stalled,
            )
        )
    return views


# workers and queue ----------------------------------------------------------------------------
@dataclass
class WorkerView:
    name: str
    running_jobs: int
    since: datetime | None
    lease_until: datetime | None
    kind: str = "rollout"

    @property
    def alive(self) -> bool:
        return self.lease_until is not None and self.lease_until > utcnow()


@dataclass
class QueueView:
    workers: list[WorkerView]
    jobs: dict[str, dict[str, int]]  # campaign -> state -> count
    scheduler_holder: str | None
    scheduler_tick_at: datetime | None
    scheduler_alive: bool
    stalled: dict[str, str] = field(default_factory=dict)  # campaign -> why


def queue_view(session: Session) -> QueueView:
    """Live workers from the leases of the jobs and training runs they hold, jobs by state
    per campaign, and the scheduler's lease (renewed at every tick)."""
    workers = [
        WorkerView(w, int(n), as_utc(since), as_utc(until))
        for w, n, since, until in session.execute(
            select(
                Job.worker, func.count(), func.min(Job.started_at), func.max(Job.lease_expires_at)
            )
            .where(Job.state == JobState.RUNNING.value)
            .group_by(Job.worker)
            .order_by(Job.worker)
        )
    ]
    for w, since, beat in session.execute(
        select(TrainingRun.worker, TrainingRun.created_at, TrainingRun.heartbeat_at).where(
            TrainingRun.state == "running", TrainingRun.worker.is_not(None)
        )
    ):
        workers.append(WorkerView(w, 1, as_utc(since), as_utc(beat), kind="train"))
    names = dict(session.execute(select(Campaign.id, Campaign.name)).all())
    jobs: dict[str, dict[str, int]] = {}
    for cid, state, n in session.execute(
        select(Job.campaign_id, Job.state, func.count()).group_by(Job.campaign_id, Job.state)
    ):
        jobs.setdefault(names.get(cid, str(cid)), {})[state] = int(n)
    lease = session.get(SchedulerLease, "scheduler")
    holder, tick_at, alive = None, None, False
    if lease is not None and lease.expires_at is not None:
        from scheduler.loop import LEASE_S

        expires = as_utc(lease.expires_at)
        holder, tick_at, alive = (
            lease.holder,
            expires - timedelta(seconds=LEASE_S),
            expires > utcnow(),
        )
    active = list(
        session.scalars(select(Campaign).where(Campaign.state == CampaignState.ACTIVE.value))
    )
    stalled = {v.name: v.stalled for v in campaign_views(session, active) if v.stalled}
    return QueueView(workers, jobs, holder, tick_at, alive, stalled)


# failures -------------------------------------------------------------------------------------
def failure_counts(session: Session, campaign: str | None = None) -> list[StatRow]:
    """Outcomes per campaign x task x robot x teacher, from the summary table."""
    return episode_stats(session, campaign)


def failures_by_line(rows: list[StatRow]) -> tuple[list[str], dict[str, dict[str, int]]]:
    """(``task / robot`` labels, reason -> label -> count) summed over campaigns and teachers."""
    labels: list[str] = []
    counts: dict[str, dict[str, int]] = {}
    for row in rows:
        label = f"{row.task} / {row.robot}"
        if label not in labels:
            labels.append(label)
        for reason, n in row.failures.items():
            by_label = counts.setdefault(reason, {})
            by_label[label] = by_label.get(label, 0) + n
    return sorted(labels), dict(sorted(counts.items()))


# episodes -------------------------------------------------------------------------------------
LIST_COLUMNS = (
    "id",
    "campaign_id",
    "task",
    "robot",
    "seed",
    "attempt",
    "teacher",
    "success",
    "failure_reason",
    "traj_uri",
    "created_at",
)


@dataclass
class EpisodePage:
    rows: list[dict[str, Any]]
    next_before: int | None  # the cursor of the next (older) page


def episode_page(
    session: Session, flt: EpisodeFilter, before: int | None, size: int = PAGE_SIZE
) -> EpisodePage:
    """Newest first, ``size`` rows with id below ``before``: one index range per page."""
    columns = [getattr(Episode, n) for n in LIST_COLUMNS]
    stmt = flt.apply(select(*columns))
    if before is not None:
        stmt = stmt.where(Episode.id < before)
    rows = session.execute(stmt.order_by(Episode.id.desc()).limit(size + 1)).all()
    page = [dict(zip(LIST_COLUMNS, r, strict=True)) for r in rows[:size]]
    return EpisodePage(page, page[-1]["id"] if len(rows) > size else None)


def campaign_ids(session: Session) -> dict[int, str]:
    return dict(session.execute(select(Campaign.id, Campaign.name)).all())


def episode(session: Session, episode_id: int) -> dict[str, Any] | None:
    names = FULL_COLUMNS
    row = session.execute(
        select(*(getattr(Episode, n) for n in names)).where(Episode.id == episode_id)
    ).first()
    if row is None:
        return None
    data = dict(zip(names, row, strict=True))
    data["campaign"] = session.scalar(
        select(Campaign.name).where(Campaign.id == data["campaign_id"])
    )
    return data


def prompt_messages(ep: dict[str, Any]) -> tuple[list[dict[str, str]], str | None]:
    """The chat the teacher was shown, rendered again from the stored scene by the prompt
    version the episode records (manip.prompt owns the format); or why it cannot be."""
    from manip.prompt import render_messages
    from models.types import SceneState

    if not ep["scene"] or not ep["prompt_version"]:
        return [], None
    try:
        return render_messages(SceneState.from_json(ep["scene"]), ep["prompt_version"]), None
    except (BlazerError, KeyError, TypeError, ValueError) as exc:
        return [], f"cannot render the prompt from the stored scene: {exc}"


# datasets and models --------------------------------------------------------------------------
def datasets(session: Session) -> list[dict[str, Any]]:
    """Snapshot rows only (size and filter are on the row): never a pass over their members."""
    return [
        {
            "name": d.name,
            "size": d.size,
            "filter": d.filter_spec,
            "prompt_version": d.prompt_version,
            "hash": d.content_hash[:12],
            "created_at": as_utc(d.created_at),
        }
        for d in session.scalars(select(Dataset).order_by(Dataset.id.desc()))
    ]


def model_versions(session: Session) -> list[dict[str, Any]]:
    names = dict(session.execute(select(ModelVersion.id, ModelVersion.name)).all())
    dataset_names = dict(session.execute(select(Dataset.id, Dataset.name)).all())
    return [
        {
            "name": v.name,
            "lineage": v.lineage,
            "parent": names.get(v.parent_id),
            "base_model": v.base_model,
            "dataset": dataset_names.get(v.dataset_id),
            "promoted": v.promoted,
            "prompt_version": v.prompt_version,
            "eval": (v.metrics or {}).get("eval") or {},
            "metrics": {k: val for k, val in (v.metrics or {}).items() if k != "eval"},
            "created_at": as_utc(v.created_at),
        }
        for v in session.scalars(select(ModelVersion).order_by(ModelVersion.id.desc()))
    ]


def bootstrap_lineages(session: Session) -> list[str]:
    """Lineages with bootstrap rounds: the ones ``blazer models lineage`` draws a curve for."""
    return list(
        session.scalars(
            select(TrainingRun.lineage)
            .where(TrainingRun.kind == "bootstrap", TrainingRun.lineage.is_not(None))
            .distinct()
            .order_by(TrainingRun.lineage)
        )
    )
